"""The background rejudge (`store/background_rejudge.py`): how fast it goes, that its rate bound
holds, and what it costs the reads a service answers meanwhile.

    sudo nice -n 10 .venv/bin/python benchmarks/background_rejudge_bench.py [--scans 100]

One factory image is scanned for real and what the store keeps of its run captured; --scans
done scans are stored from it, on SQLite and on a real PostgreSQL (tests/postgres.py), and
re-judged with one more rule (every scan changes). Printed per store: scans a second of the
background process unbounded (nice 10 below this script), and of its loop (`Rejudger`) run
in this process, against the peer in the same script — `rejudge_store`, the `detonate rejudge
--db` loop, in this process on an identical store (it claims nothing); the rate with the
default bound (2 a second); and the median latency of the reads a service answers
(`get_scan`, `verdict_for`) from this process while the background process works, against the
same reads with it idle. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from detonate.rules.loader import forget_fingerprints  # noqa: E402
from detonate.store import Store  # noqa: E402
from detonate.store.background_rejudge import BackgroundSettings, Rejudger, start  # noqa: E402
from detonate.store.rejudge import rejudge_store  # noqa: E402
from postgres import start_postgres, stop_postgres  # noqa: E402
from store.stored_scans import LATER_RULE, Scanned, scan_state_and_cron, stored  # noqa: E402


def _filled(url: str, scanned: Scanned, count: int) -> tuple[Store, list[str]]:
    store = Store.open(url)
    return store, [stored(store, scanned, number) for number in range(1, count + 1)]


def _reads(store: Store, scan_ids: list[str], digest_of: Callable[[str], str]) -> float:
    """Median seconds of one get_scan plus one verdict_for."""
    times = []
    for scan_id in scan_ids:
        started = time.perf_counter()
        store.get_scan(scan_id)
        store.verdict_for(digest_of(scan_id))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(name: str, new_url: Callable[[], str], scanned: Scanned, rules: Path, n: int) -> None:
    store, scan_ids = _filled(new_url(), scanned, n)
    digests = {record.id: record.digest for i in scan_ids if (record := store.get_scan(i))}
    url = store.engine.url.render_as_string(hide_password=False)
    idle = _reads(store, scan_ids, digests.__getitem__)
    started = time.monotonic()
    rejudging = start(store, BackgroundSettings(url, rules, per_second=10_000), "bench")
    assert rejudging is not None
    busy: list[float] = []
    while rejudging.process.poll() is None:
        busy.append(_reads(store, scan_ids[:10], digests.__getitem__))
    background = n / (time.monotonic() - started)
    progress = store.rejudge_progress()
    assert progress is not None and progress.done == {"changed": n}, progress
    store.close()

    peer_store, _ = _filled(new_url(), scanned, n)
    started = time.monotonic()
    summary = rejudge_store(peer_store, rules)
    peer = n / (time.monotonic() - started)
    assert len(summary.changed) == n
    peer_store.close()

    loop_store, _ = _filled(new_url(), scanned, n)
    loop_url = loop_store.engine.url.render_as_string(hide_password=False)
    started = time.monotonic()
    Rejudger(loop_store, BackgroundSettings(loop_url, rules, per_second=10_000), "bench").run()
    in_process = n / (time.monotonic() - started)
    loop_store.close()

    bounded_store, _ = _filled(new_url(), scanned, 10)
    bounded_url = bounded_store.engine.url.render_as_string(hide_password=False)
    started = time.monotonic()
    rejudging = start(bounded_store, BackgroundSettings(bounded_url, rules), "bench")
    assert rejudging is not None
    rejudging.process.wait()
    bounded = 10 / (time.monotonic() - started)
    bounded_store.close()

    during = statistics.median(busy) if busy else float("nan")
    print(
        f"{name:<10} background {background:6.1f} scans/s (from its start, process start "
        f"included)  its loop here {in_process:6.1f}/s  peer rejudge_store {peer:6.1f}/s  "
        f"ratios {background / peer:4.2f} {in_process / peer:4.2f}  "
        f"bounded (2/s) {bounded:4.2f}/s  reads {idle * 1000:5.2f} ms idle, "
        f"{during * 1000:5.2f} ms during ({during / idle:4.2f}x)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="background-rejudge-"))
    scanned = scan_state_and_cron(work)
    rules = work / "rules"
    rules.mkdir()
    (rules / "later.yaml").write_text(LATER_RULE)
    forget_fingerprints()
    numbers = iter(range(1_000_000))
    measure(
        "SQLite",
        lambda: f"sqlite:///{work / f'store-{next(numbers)}.db'}",
        scanned,
        rules,
        args.scans,
    )
    server = start_postgres()
    try:
        measure("PostgreSQL", server.new_database, scanned, rules, args.scans)
    finally:
        stop_postgres(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
