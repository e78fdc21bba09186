"""Fleet benchmark: prints throughput and ratios, asserts nothing. Loads only 127.0.0.1.

    python benchmarks/fleet_bench.py [--rounds 2] [--repeats 1] [--timeout 6]

The same batch of full (sandboxed) scans of the bundled samples — each sample `--rounds`
times, each a distinct store scan (its own cache key) — run three ways on this machine:
the in-process pool with 1 worker thread (the peer), `detonate worker` on a real redis-server
with 1 pool process, and with 2. Prints wall time, scans per minute, scans per core per hour,
the Celery path's cost against the in-process pool, and scaling efficiency from 1 to 2.
`--repeats N` runs the three N times, interleaved (a shared machine's load changes between
them), and prints each repeat's ratios and their medians. Each Celery run also prints where a
fresh scan process's start-up went (the worker's per-scan timeline line, task.py).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from detonate.acquire.resolve import resolve  # noqa: E402
from detonate.factory import BuiltSample, build_sample  # noqa: E402
from detonate.model.options import AcquireOptions, SandboxOptions, ScanOptions  # noqa: E402
from detonate.queue import InProcessQueue  # noqa: E402
from detonate.store import Source, Store  # noqa: E402
from detonate.worker import CeleryQueue  # noqa: E402
from fleet.conftest import RedisServer, _free_port  # noqa: E402

SAMPLES = ("delayed-dropper", "benign-web", "planted-static")
STARTUP = r"process start ([0-9.]+) s, sweep ([0-9.]+) s, idle ([0-9.]+) s, store ([0-9.]+) s"
DETONATE = Path(sys.executable).parent / "detonate"


@dataclass
class Result:
    name: str
    scans: int
    seconds: float
    processes: int
    scanning: float  # the sum of the scans' own durations (the store's, claim to report)

    @property
    def outside(self) -> float:
        """Seconds per scan a pool process spent not scanning: hand-off, process start-up and
        the batch's tail. Less sensitive to the machine's load than the wall time."""
        return (self.seconds * self.processes - self.scanning) / self.scans

    @property
    def per_minute(self) -> float:
        return self.scans / self.seconds * 60


def request_all(store: Store, samples: list[BuiltSample], rounds: int, label: str) -> list[str]:
    ids = []
    for n in range(rounds):
        for sample in samples:
            resolved = resolve(sample.archive_reference, AcquireOptions())
            record, _ = store.request_scan(
                sample.archive_reference,
                digest=resolved.digest,
                platform=resolved.platform,
                source=Source.API,
                ruleset=f"bench-{label}-{n}",  # a distinct scan per round, same work
            )
            ids.append(record.id)
    return ids


def wait_all(store: Store, ids: list[str], timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = [store.get_scan(i) for i in ids]
        if all(r is not None and not r.active for r in records):
            failed = [r.reason for r in records if r is not None and r.status.value != "done"]
            if failed:
                print(f"  warning: {len(failed)} scans not done: {failed[:2]}")
            return
        time.sleep(0.2)
    raise SystemExit("batch did not finish")


def in_process(
    work: Path, samples: list[BuiltSample], rounds: int, timeout: int, label: str = "inproc"
) -> Result:
    store = Store.open(f"sqlite:///{work / f'{label}.db'}")
    options = ScanOptions(cache_dir=work / "cache", sandbox=SandboxOptions(timeout))
    queue = InProcessQueue(store, options, concurrency=1)
    ids = request_all(store, samples, rounds, label)
    started = time.monotonic()
    for scan_id in ids:
        queue.submit(scan_id)
    wait_all(store, ids)
    seconds = time.monotonic() - started
    durations = scan_seconds(store, ids)
    print(f"  in-process: median scan {statistics.median(durations):.2f} s")
    queue.close()
    store.close()
    return Result("in-process pool, 1 thread", len(ids), seconds, 1, sum(durations))


def scan_seconds(store: Store, ids: list[str]) -> list[float]:
    return [r.duration_seconds for r in map(store.get_scan, ids) if r and r.duration_seconds]


def celery(
    work: Path, samples: list[BuiltSample], rounds: int, timeout: int, procs: int, label: str = ""
) -> Result:
    tag = f"{procs}{label}"
    directory = work / f"redis-{tag}"
    directory.mkdir()
    redis = RedisServer(_free_port(), directory)
    redis.start()
    db = f"sqlite:///{work / f'celery-{tag}.db'}"
    store = Store.open(db)
    log = work / f"worker-{tag}.log"
    with open(log, "wb") as output:
        worker = subprocess.Popen(
            [str(DETONATE), "worker", "--queue", redis.url, "--db", db,
             "--cache-dir", str(work / "cache"), "--concurrency", str(procs),
             "--timeout", str(timeout)],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        while b" ready." not in log.read_bytes():
            if worker.poll() is not None:
                raise SystemExit(log.read_text())
            time.sleep(0.1)
        queue = CeleryQueue(store, redis.url)
        ids = request_all(store, samples, rounds, f"celery{tag}")
        started = time.monotonic()
        for scan_id in ids:
            queue.submit(scan_id)
        wait_all(store, ids)
        seconds = time.monotonic() - started
        queue.close()
        durations = scan_seconds(store, ids)
        text = log.read_text(errors="replace")
        # "Task detonate.scan[…] succeeded in 9.81s: 'done'": the time inside the task
        inside = [float(m) for m in re.findall(r"succeeded in ([0-9.]+)s", text)]
        print(f"  celery {procs}: median time inside the task {statistics.median(inside):.2f} s")
        # "scan …: process start 0.21 s, sweep 0.03 s, idle 0.00 s, store 0.02 s"
        parts = re.findall(STARTUP, text)
        if parts:
            medians = [statistics.median(float(p[n]) for p in parts) for n in range(4)]
            print(
                "  celery {}: scan process start-up, medians: fork to Celery's init {:.3f} s, "
                "leftover sweep {:.3f} s, idle {:.3f} s, store {:.3f} s".format(procs, *medians)
            )
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(60)
        redis.stop()
        store.close()
    name = f"celery, {procs} pool process{'es' if procs > 1 else ''}"
    return Result(name, len(ids), seconds, procs, sum(durations))


def report(results: list[Result], cores: int) -> tuple[float, float]:
    for r in results:
        per_core_hour = r.per_minute * 60 / cores
        print(
            f"{r.name:32} {r.scans:3} scans {r.seconds:7.1f} s  {r.per_minute:5.2f}/min  "
            f"{per_core_hour:6.1f} scans/core/h  {r.outside:5.2f} s/scan outside scans"
        )
    peer, one, two = results
    cost, efficiency = one.seconds / peer.seconds, two.per_minute / one.per_minute / 2
    print(f"celery-1 cost vs in-process: {cost:.2f}x (goal <= 1.1)")
    print(f"scaling 1 -> 2 processes: efficiency {efficiency:.2f} (goal >= 0.8)")
    return cost, efficiency


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=6)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    ratios = []
    with tempfile.TemporaryDirectory(prefix="detonate-fleet-bench-") as tmp:
        work = Path(tmp)
        samples = [build_sample(REPO / "samples" / n, work / "built") for n in SAMPLES]
        # Warm the unpack cache once so every configuration starts equal.
        in_process(work, samples, 1, args.timeout, "warm-up")
        for repeat in range(args.repeats):
            label = f"r{repeat}"
            results = [
                in_process(work, samples, args.rounds, args.timeout, f"inproc-{label}"),
                celery(work, samples, args.rounds, args.timeout, 1, label),
                celery(work, samples, args.rounds, args.timeout, 2, label),
            ]
            load = os.getloadavg()
            print(
                f"repeat {repeat + 1}/{args.repeats}: {cores} cores, load average "
                f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, sandbox timeout {args.timeout} s"
            )
            ratios.append(report(results, cores))
    if args.repeats > 1:
        costs, efficiencies = zip(*ratios, strict=True)
        print(
            f"median of {args.repeats} repeats: celery-1 cost {statistics.median(costs):.2f}x "
            f"(each {', '.join(f'{c:.2f}' for c in costs)}), scaling efficiency "
            f"{statistics.median(efficiencies):.2f} "
            f"(each {', '.join(f'{e:.2f}' for e in efficiencies)})"
        )


if __name__ == "__main__":
    main()
