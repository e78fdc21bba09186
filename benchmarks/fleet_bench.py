"""Fleet benchmark: prints throughput and ratios, asserts nothing. Loads only 127.0.0.1.

    python benchmarks/fleet_bench.py [--rounds 1] [--timeout 6]

The same batch of full (sandboxed) scans of the bundled samples — each sample `--rounds`
times, each a distinct store scan (its own cache key) — run three ways on this machine:
the in-process pool with 1 worker thread (the peer), `detonate worker` on a real redis-server
with 1 pool process, and with 2. Prints wall time, scans per minute, scans per core per hour,
the Celery path's cost against the in-process pool, and scaling efficiency from 1 to 2.
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
DETONATE = Path(sys.executable).parent / "detonate"


@dataclass
class Result:
    name: str
    scans: int
    seconds: float
    processes: int

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
    durations = [r.duration_seconds for r in map(store.get_scan, ids) if r and r.duration_seconds]
    print(f"  in-process: median scan {statistics.median(durations):.1f} s")
    queue.close()
    store.close()
    return Result("in-process pool, 1 thread", len(ids), seconds, 1)


def celery(work: Path, samples: list[BuiltSample], rounds: int, timeout: int, procs: int) -> Result:
    directory = work / f"redis-{procs}"
    directory.mkdir()
    redis = RedisServer(_free_port(), directory)
    redis.start()
    db = f"sqlite:///{work / f'celery-{procs}.db'}"
    store = Store.open(db)
    log = work / f"worker-{procs}.log"
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
        ids = request_all(store, samples, rounds, f"celery{procs}")
        started = time.monotonic()
        for scan_id in ids:
            queue.submit(scan_id)
        wait_all(store, ids)
        seconds = time.monotonic() - started
        queue.close()
        # "Task detonate.scan[…] succeeded in 9.81s: 'done'": the time inside the task
        inside = [float(m) for m in re.findall(rb"succeeded in ([0-9.]+)s", log.read_bytes())]
        print(f"  celery {procs}: median time inside the task {statistics.median(inside):.1f} s")
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(60)
        redis.stop()
        store.close()
    name = f"celery, {procs} pool process{'es' if procs > 1 else ''}"
    return Result(name, len(ids), seconds, procs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=6)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="detonate-fleet-bench-") as tmp:
        work = Path(tmp)
        samples = [build_sample(REPO / "samples" / n, work / "built") for n in SAMPLES]
        # Warm the unpack cache once so every configuration starts equal.
        in_process(work, samples, 1, args.timeout, "warm-up")
        results = [
            in_process(work, samples, args.rounds, args.timeout),
            celery(work, samples, args.rounds, args.timeout, 1),
            celery(work, samples, args.rounds, args.timeout, 2),
        ]
    load = os.getloadavg()[0]
    print(f"{cores} cores, load average {load:.1f}, sandbox timeout {args.timeout} s")
    for r in results:
        per_core_hour = r.per_minute * 60 / cores
        print(
            f"{r.name:32} {r.scans:3} scans {r.seconds:7.1f} s  {r.per_minute:5.2f}/min  "
            f"{per_core_hour:6.1f} scans/core/h"
        )
    peer, one, two = results
    print(f"celery-1 cost vs in-process: {one.seconds / peer.seconds:.2f}x (goal <= 1.1)")
    print(f"scaling 1 -> 2 processes: efficiency {two.per_minute / one.per_minute / 2:.2f}")


if __name__ == "__main__":
    main()
