"""The worker and the in-process pool on real scans of the bundled samples (static profile:
no sandbox, seconds each), with a real SQLite store: claim, run, store; resume after a
restart; poison; cancel; and pipeline.scan's own cancel path."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from detonate.acquire.resolve import resolve
from detonate.factory import BuiltSample
from detonate.model.options import AcquireOptions, ScanOptions
from detonate.model.report import Verdict
from detonate.pipeline import scan
from detonate.queue import InProcessQueue, run_scan
from detonate.store import MAX_ATTEMPTS, ScanRecord, ScanStatus, Source, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'detonate.db'}")
    yield opened
    opened.close()


@pytest.fixture
def options(tmp_path: Path) -> ScanOptions:
    return ScanOptions(cache_dir=tmp_path / "cache")


def queued(store: Store, sample: BuiltSample, profile: str = "static") -> ScanRecord:
    reference = sample.archive_reference
    resolved = resolve(reference, AcquireOptions())
    record, created = store.request_scan(
        reference,
        digest=resolved.digest,
        platform=resolved.platform,
        source=Source.API,
        profile=profile,
    )
    assert created
    return record


def wait_for(store: Store, scan_id: str, timeout: float = 120) -> ScanRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = store.get_scan(scan_id)
        if record is not None and not record.active:
            return record
        time.sleep(0.1)
    raise AssertionError(f"scan {scan_id} did not finish within {timeout} s: {record}")


def test_worker_runs_a_queued_scan_and_stores_the_report(store, options, built_samples) -> None:
    record = queued(store, built_samples["planted-static"])
    seen: list[tuple[str, float]] = []
    finished = run_scan(store, record.id, options, observe=lambda r, s: seen.append((r.id, s)))
    assert finished is not None
    assert (finished.status, finished.verdict, finished.attempts) == (
        ScanStatus.DONE,
        "malicious",
        1,
    )
    assert finished.deciding_rule and finished.stage == ""
    assert seen and seen[0][0] == record.id and seen[0][1] > 0
    report = store.report_json(record.id)
    assert report is not None and record.digest in report
    assert run_scan(store, record.id, options) is None  # done: nothing to claim


def test_a_scan_that_cannot_be_read_fails_with_the_reason(store, options, tmp_path) -> None:
    missing = tmp_path / "gone.oci.tar"
    record, _ = store.request_scan(
        f"oci-archive:{missing}",
        digest="sha256:" + "9" * 64,
        platform="linux/amd64",
        source=Source.API,
    )
    finished = run_scan(store, record.id, options)
    assert finished is not None and finished.status is ScanStatus.FAILED
    assert finished.reason.startswith("acquire:"), finished.reason


def test_pool_resumes_what_a_stopped_service_left_queued_or_running(
    store, options, built_samples
) -> None:
    waiting = queued(store, built_samples["planted-static"])
    interrupted = queued(store, built_samples["benign-web"])
    assert store.mark_running(interrupted.id) is not None  # its worker "died" here
    pool = InProcessQueue(store, options, concurrency=1)
    try:
        assert pool.resume() == (2, 0)
        done = [wait_for(store, waiting.id), wait_for(store, interrupted.id)]
    finally:
        pool.close()
    assert [r.status for r in done] == [ScanStatus.DONE, ScanStatus.DONE]
    assert [r.verdict for r in done] == ["malicious", "clean"]
    assert done[1].attempts == 2  # the interrupted run counted


def test_a_scan_that_kept_killing_its_worker_is_poisoned_not_run(
    store, options, built_samples
) -> None:
    record = queued(store, built_samples["planted-static"])
    for _ in range(MAX_ATTEMPTS - 1):
        store.mark_running(record.id)
        store.requeue_interrupted()
    store.mark_running(record.id)
    pool = InProcessQueue(store, options, concurrency=1)
    try:
        assert pool.resume() == (0, 1)
    finally:
        pool.close()
    poisoned = store.get_scan(record.id)
    assert poisoned is not None and poisoned.status is ScanStatus.POISONED
    assert store.report_json(record.id) is None


def test_cancel_of_a_waiting_scan_drops_it(store, options, built_samples) -> None:
    gate = threading.Event()
    blocker = queued(store, built_samples["benign-web"])
    waiting = queued(store, built_samples["planted-static"])
    # The one worker is busy until `gate` opens: a Progress that waits when acquire starts.
    original = store.set_stage

    def held(scan_id: str, stage: str) -> None:
        if scan_id == blocker.id:
            gate.wait(30)
        original(scan_id, stage)

    store.set_stage = held  # type: ignore[method-assign]
    pool = InProcessQueue(store, options, concurrency=1)
    try:
        pool.submit(blocker.id)
        pool.submit(waiting.id)
        assert pool.depth() >= 1
        assert pool.cancel(waiting.id)
        gate.set()
        assert wait_for(store, blocker.id).status is ScanStatus.DONE
    finally:
        gate.set()
        pool.close()
    cancelled = store.get_scan(waiting.id)
    assert cancelled is not None and cancelled.status is ScanStatus.FAILED
    assert cancelled.reason == "cancelled before it started" and cancelled.attempts == 0
    assert not pool.cancel("no-such-scan")


def test_scan_with_cancel_set_stops_before_the_first_stage(built_samples, options) -> None:
    cancel = threading.Event()
    cancel.set()
    report = scan(built_samples["planted-static"].archive_reference, options, cancel=cancel)
    assert report.verdict is Verdict.ERROR and report.error is not None
    assert (report.error.stage, report.error.kind) == ("cancelled", "ScanCancelled")
    assert report.timings == ()  # nothing ran


def test_a_graceful_stop_puts_the_running_scan_back_in_the_queue(
    store, options, built_samples
) -> None:
    reached, gate = threading.Event(), threading.Event()
    record = queued(store, built_samples["planted-static"])
    original = store.set_stage

    def held(scan_id: str, stage: str) -> None:
        reached.set()
        gate.wait(30)
        original(scan_id, stage)

    store.set_stage = held  # type: ignore[method-assign]
    pool = InProcessQueue(store, options, concurrency=1)
    pool.submit(record.id)
    assert reached.wait(30)
    closing = threading.Thread(target=pool.close)
    closing.start()  # cancels the running scan: it stops at the next stage boundary
    deadline = time.monotonic() + 30
    while pool.running() and not all(e.is_set() for e in pool._running.values()):
        assert time.monotonic() < deadline, "close() did not cancel the running scan"
        time.sleep(0.01)
    gate.set()
    closing.join(60)
    back = store.get_scan(record.id)
    assert back is not None
    assert (back.status, back.attempts, back.verdict) == (ScanStatus.QUEUED, 0, None)
    store.set_stage = original  # type: ignore[method-assign]
    again = InProcessQueue(store, options, concurrency=1)
    try:
        assert again.resume() == (1, 0)
        assert wait_for(store, record.id).verdict == "malicious"
    finally:
        again.close()
