"""What recording a scan's run for the store costs a worker (`queue/worker.py` `recording()`):
the run record written beside the run and read back by `stored_runs.capture`.

    sudo nice -n 10 .venv/bin/python benchmarks/recording_cost.py [--rounds 3]
        [--samples b01-web-healthcheck,t01-hidden-miner,t10-cron-persistence]

Each sample is scanned for real through the worker's `run_scan` into a SQLite store,
alternately as it is (recorded: a temporary artifacts directory, the record written, captured
and stored with the report) and with `recording()` replaced by one that records nothing (the
peer: the sandbox keeps its run's files in a temporary directory of its own either way), so
machine load falls on both alike. Printed per sample: the median wall seconds of both, their
ratio, the sandbox stage's median on both sides (the run's own variation), and the recording's
own parts in the recorded scans (the pipeline's "record" stage and `capture`). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import detonate.queue.worker as worker  # noqa: E402
from detonate.factory import build_sample  # noqa: E402
from detonate.model.options import SandboxOptions, ScanOptions  # noqa: E402
from detonate.pipeline import scan  # noqa: E402
from detonate.store import ScanStatus, Source, Store, StoredRun  # noqa: E402

SAMPLES = "b01-web-healthcheck,t01-hidden-miner,t10-cron-persistence"
SANDBOX = SandboxOptions(timeout_seconds=20, idle_seconds=4)  # runs that end, not servers that wait


@contextmanager
def unrecorded(options: ScanOptions, scan_id: str) -> Iterator[ScanOptions]:
    yield options  # no artifacts directory: no record, nothing captured


class Timed:
    """`capture` with its seconds kept (the worker calls it by this name)."""

    def __init__(self, capture: Callable[[Path], StoredRun]) -> None:
        self.capture, self.seconds = capture, 0.0

    def __call__(self, root: Path) -> StoredRun:
        started = time.perf_counter()
        try:
            return self.capture(root)
        finally:
            self.seconds = time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", default=SAMPLES)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="recording-cost-"))
    options = ScanOptions(cache_dir=work / "cache", sandbox=SANDBOX)
    store = Store.open(f"sqlite:///{work / 'store.db'}")
    timed = Timed(worker.capture)
    worker.capture = timed  # type: ignore[assignment]
    number = 0
    recording = worker.recording
    print(
        "sample                 recorded s  unrecorded s  ratio  sandbox s (rec/unrec)"
        "  record ms  capture ms  kept B"
    )
    for name in args.samples.split(","):
        sample = build_sample(REPO / "samples" / "scenarios" / name, work / "samples")
        target = sample.archive_reference
        scan(target, options)  # warm: the image in the cache for both sides
        seconds: dict[str, list[float]] = {"recorded": [], "unrecorded": []}
        sandbox: dict[str, list[float]] = {"recorded": [], "unrecorded": []}
        record_ms, capture_ms, kept = [], [], []
        for round_ in range(args.rounds):
            sides = ("recorded", "unrecorded") if round_ % 2 == 0 else ("unrecorded", "recorded")
            for side in sides:
                worker.recording = recording if side == "recorded" else unrecorded  # type: ignore[assignment]
                number += 1
                requested, _ = store.request_scan(
                    target,
                    digest=f"sha256:{number:064x}",
                    platform="linux/amd64",
                    source=Source.API,
                )
                timed.seconds = 0.0
                started = time.monotonic()
                done = worker.run_scan(store, requested.id, options)
                seconds[side].append(time.monotonic() - started)
                assert done is not None and done.status is ScanStatus.DONE, done
                stages = _stages(store.report_json(requested.id) or "{}")
                sandbox[side].append(stages.get("sandbox", 0.0))
                run = store.stored_run(requested.id)
                if side == "unrecorded":
                    assert run is None or run.data is None, "the peer recorded its run"
                    continue
                record_ms.append(stages.get("record", 0.0) * 1000)
                capture_ms.append(timed.seconds * 1000)
                assert run is not None and run.data is not None, run
                kept.append(len(run.data) + sum(len(c) for c in run.copies.values()))
        a, b = (statistics.median(seconds[side]) for side in ("recorded", "unrecorded"))
        c, d = (statistics.median(sandbox[side]) for side in ("recorded", "unrecorded"))
        print(
            f"{name:<22} {a:10.2f}  {b:12.2f}  {a / b:5.3f}  {c:9.2f} / {d:<9.2f}"
            f"  {statistics.median(record_ms):9.1f}  {statistics.median(capture_ms):10.1f}"
            f"  {int(statistics.median(kept)):6d}",
            flush=True,
        )
    worker.recording = recording  # type: ignore[assignment]
    store.close()
    return 0


def _stages(document: str) -> dict[str, float]:
    return {t["stage"]: t["seconds"] for t in json.loads(document).get("timings", [])}


if __name__ == "__main__":
    raise SystemExit(main())
