"""What recording a scan's run for the store costs a worker (`queue/worker.py` `recording()`):
the run record written beside the run and read back by `stored_runs.capture`.

    sudo nice -n 10 .venv/bin/python benchmarks/recording_cost.py [--rounds 3]
        [--samples b01-web-healthcheck,t01-hidden-miner,t10-cron-persistence]

Each sample is scanned for real, alternately through the worker's `run_scan` (recorded: a
temporary artifacts directory, the record written, captured and stored) and through
`pipeline.scan` without an artifacts directory (the peer: the sandbox keeps its run's files in
a temporary directory of its own either way), so machine load falls on both alike. Printed per
sample: the median wall seconds of both, their ratio, and the recording's own parts in the
recorded scans (the pipeline's "record" stage and `capture`). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import detonate.queue.worker as worker  # noqa: E402
from detonate.factory import build_sample  # noqa: E402
from detonate.model.options import SandboxOptions, ScanOptions  # noqa: E402
from detonate.pipeline import scan  # noqa: E402
from detonate.store import ScanStatus, Source, Store, StoredRun  # noqa: E402

SAMPLES = "b01-web-healthcheck,t01-hidden-miner,t10-cron-persistence"
SANDBOX = SandboxOptions(timeout_seconds=20, idle_seconds=4)  # runs that end, not servers that wait


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
    print("sample                    recorded s  peer s  ratio  record ms  capture ms  kept B")
    for name in args.samples.split(","):
        sample = build_sample(REPO / "samples" / "scenarios" / name, work / "samples")
        target = sample.archive_reference
        scan(target, options)  # warm: the image in the cache for both sides
        recorded, peer, record_ms, capture_ms, kept = [], [], [], [], []
        for round_ in range(args.rounds):
            for side in ("recorded", "peer") if round_ % 2 == 0 else ("peer", "recorded"):
                started = time.monotonic()
                if side == "peer":
                    report = scan(target, options)
                    assert report.error is None, report.error
                    peer.append(time.monotonic() - started)
                    continue
                number += 1
                requested, _ = store.request_scan(
                    target,
                    digest=f"sha256:{number:064x}",
                    platform="linux/amd64",
                    source=Source.API,
                )
                done = worker.run_scan(store, requested.id, options)
                recorded.append(time.monotonic() - started)
                assert done is not None and done.status is ScanStatus.DONE, done
                document = store.report_json(requested.id) or "{}"
                stages = {t["stage"]: t["seconds"] for t in _timings(document)}
                record_ms.append(stages.get("record", 0.0) * 1000)
                capture_ms.append(timed.seconds * 1000)
                run = store.stored_run(requested.id)
                assert run is not None and run.data is not None, run
                kept.append(len(run.data) + sum(len(c) for c in run.copies.values()))
        a, b = statistics.median(recorded), statistics.median(peer)
        print(
            f"{name:<25} {a:10.2f}  {b:6.2f}  {a / b:5.3f}  "
            f"{statistics.median(record_ms):9.1f}  {statistics.median(capture_ms):10.1f}  "
            f"{int(statistics.median(kept)):6d}",
            flush=True,
        )
    store.close()
    return 0


def _timings(document: str) -> list[dict[str, float]]:
    import json

    return list(json.loads(document).get("timings", []))


if __name__ == "__main__":
    raise SystemExit(main())
