"""Re-judging the store's scans (issue 9, item 1): throughput of `detonate rejudge --db`.

    sudo nice -n 10 .venv/bin/python benchmarks/store_rejudge_bench.py [--scans 200]
        [--samples b01-web-healthcheck,t01-hidden-miner,...]

A few scenario samples are scanned for real (sandbox, artifacts kept) and what the store keeps
of each run is captured; N done scans are then stored round-robin from them, on SQLite and on
a real PostgreSQL (tests/postgres.py), and re-judged with one more runtime rule (so every scan
is taken and rewritten). Printed: runs re-judged per second, against the peer — the same
number of `pipeline.rejudge` calls on the scans' own run directories (what
`detonate rejudge RUN_DIR` does), which pays neither the store's reads and writes nor
materialising the record — the time to find that nothing needs re-judging when the rules are
unchanged, the cost of storing a run with its record against without, and the bytes kept per
run. Medians of --rounds; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from sqlalchemy import func, select  # noqa: E402

from detonate.factory import build_sample  # noqa: E402
from detonate.model.options import SandboxOptions, ScanOptions  # noqa: E402
from detonate.model.report import Report  # noqa: E402
from detonate.pipeline import rejudge, scan  # noqa: E402
from detonate.rules.loader import forget_fingerprints  # noqa: E402
from detonate.run_record import find_run_record  # noqa: E402
from detonate.store import Source, Store, StoredRun  # noqa: E402
from detonate.store.models import DroppedFileCopy, RunRecordRow  # noqa: E402
from detonate.store.rejudge import Outcome, rejudge_store  # noqa: E402
from detonate.store.stored_runs import capture  # noqa: E402
from postgres import start_postgres, stop_postgres  # noqa: E402

SAMPLES = (
    "b01-web-healthcheck,b05-logrotate-cron,t01-hidden-miner,t03-runtime-payload,"
    "t10-cron-persistence,t15-hidden-paths"
)
SANDBOX = SandboxOptions(timeout_seconds=45, idle_seconds=6)  # as the corpus test
EXTRA_RULE = """title: Files written under /tmp (benchmark rule)
why: >
  One more rule, so that every stored scan was judged by other rules and is taken.
severity: low
confidence: low
category: weaponization
technique: T1105
subject: file_change
match:
  path: {regex: "^/tmp/"}
"""


@dataclass(frozen=True)
class Sampled:
    name: str
    report: Report
    run: StoredRun
    run_dir: Path


def scan_samples(names: list[str], work: Path) -> list[Sampled]:
    found = []
    for name in names:
        built = build_sample(REPO / "samples" / "scenarios" / name, work / "built")
        artifacts = work / "runs" / name
        options = ScanOptions(cache_dir=work / "cache", artifacts_dir=artifacts, sandbox=SANDBOX)
        report = scan(f"oci-archive:{built.archive}", options)
        if report.error is not None:
            print(f"  {name}: scan error {report.error.message}; left out")
            continue
        run = capture(artifacts)
        if run.data is None:
            print(f"  {name}: not kept ({run.reason}); left out")
            continue
        found.append(Sampled(name, report, run, find_run_record(artifacts).parent))
        copied = sum(len(data) for data in run.copies.values())
        print(
            f"  {name}: {report.verdict.value}, record {len(run.data)} B, "
            f"{len(run.copies)} dropped-file copies, {copied} B"
        )
    return found


def fill(store: Store, sampled: list[Sampled], count: int, keep: bool) -> list[float]:
    """`count` done scans, round-robin over the samples; the seconds of each record_report."""
    seconds = []
    for number in range(count):
        one = sampled[number % len(sampled)]
        record, _ = store.request_scan(
            f"oci-archive:{one.name}",
            digest=f"sha256:{number:064x}",
            platform="linux/amd64",
            source=Source.API,
        )
        store.mark_running(record.id)
        started = time.perf_counter()
        store.record_report(record.id, one.report, one.run if keep else None)
        seconds.append(time.perf_counter() - started)
    return seconds


def kept_bytes(store: Store) -> tuple[int, int]:
    with store.engine.connect() as connection:
        records = connection.execute(select(func.sum(RunRecordRow.size))).scalar_one() or 0
        copies = connection.execute(select(func.sum(DroppedFileCopy.size))).scalar_one() or 0
    return int(records), int(copies)


def measure(
    name: str,
    url_for: Callable[[], str],
    sampled: list[Sampled],
    args: argparse.Namespace,
    rules: Path,
) -> None:
    rates, peers, idle, with_record, without = [], [], [], [], []
    for _ in range(args.rounds):
        store = Store.open(url_for())
        try:
            with_record += fill(store, sampled, args.scans, keep=True)
            records, copies = kept_bytes(store)
            started = time.perf_counter()
            summary = rejudge_store(store)  # the rules that judged them: nothing to do
            idle.append(time.perf_counter() - started)
            assert not summary.outcomes
            started = time.perf_counter()
            summary = rejudge_store(store, rules)
            elapsed = time.perf_counter() - started
            taken = summary.count(Outcome.CHANGED) + summary.count(Outcome.REJUDGED)
            if taken != args.scans:
                print(f"  {name}: only {taken} of {args.scans} re-judged: {summary.failed[:1]}")
            rates.append(taken / elapsed)
        finally:
            store.close()
        bare = Store.open(url_for())
        try:
            without += fill(bare, sampled, args.scans, keep=False)
        finally:
            bare.close()
        started = time.perf_counter()
        for number in range(args.scans):
            rejudge(sampled[number % len(sampled)].run_dir, rules)
        peers.append(args.scans / (time.perf_counter() - started))
    rate, peer = statistics.median(rates), statistics.median(peers)
    print(f"{name}: {args.scans} stored runs, medians of {args.rounds}")
    print(f"  rejudge --db, every scan taken:      {rate:7.1f} runs/s")
    print(f"  peer: pipeline.rejudge on run dirs:  {peer:7.1f} runs/s   ratio {rate / peer:.2f}")
    print(f"  unchanged rules, nothing taken:      {statistics.median(idle) * 1000:7.1f} ms")
    keep, bare_ms = statistics.median(with_record), statistics.median(without)
    print(
        f"  record_report with the run record:   {keep * 1000:7.2f} ms "
        f"(without: {bare_ms * 1000:.2f} ms, ratio {keep / bare_ms:.2f})"
    )
    print(
        f"  kept: records {records / args.scans / 1024:.1f} KiB per scan, dropped-file copies "
        f"{copies / 1024:.1f} KiB in all (shared by sha256)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", default=SAMPLES)
    args = parser.parse_args()
    print("load average before:", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="detonate-store-rejudge-") as tmp:
        work = Path(tmp)
        print("scanning the samples (sandbox):")
        sampled = scan_samples(args.samples.split(","), work)
        rules = work / "rules"
        rules.mkdir()
        (rules / "tmp-written.yaml").write_text(EXTRA_RULE)
        forget_fingerprints()
        databases = iter(range(10_000))
        measure(
            "SQLite", lambda: f"sqlite:///{work / f'db{next(databases)}.db'}", sampled, args, rules
        )
        server = start_postgres()
        try:
            measure("PostgreSQL", server.new_database, sampled, args, rules)
        finally:
            stop_postgres(server)
    print("load average after:", " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
