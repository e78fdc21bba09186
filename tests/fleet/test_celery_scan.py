"""One real scan through the whole fleet path: the store → CeleryQueue → Redis → a
`detonate worker` subprocess → pipeline.scan with the sandbox → the store."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from detonate.sandbox.netsim.topology import list_namespaces, namespace_owner
from detonate.store import ScanStatus, Source
from detonate.worker import BACKLOG, URGENT, queue_for


def test_webhook_scans_wait_in_the_backlog_and_the_rest_are_urgent() -> None:
    assert queue_for(Source.WEBHOOK, 0) == BACKLOG
    assert queue_for(Source.WEBHOOK, 5) == URGENT  # raised on purpose
    for source in (Source.API, Source.ADMISSION, Source.CLI, Source.HONEYPOT):
        assert queue_for(source, 0) == URGENT


@pytest.mark.sandbox
def test_a_worker_runs_a_sandboxed_scan_into_the_store(fleet, built_samples) -> None:
    worker = fleet.start_worker()
    record = fleet.queue_sample(built_samples["delayed-dropper"])
    finished = fleet.wait_for(record.id)
    assert finished.status is ScanStatus.DONE, finished.reason
    assert finished.attempts == 1
    assert finished.verdict == "malicious"  # the runtime-only dropper: the sandbox ran
    report = fleet.store.report_json(record.id)
    assert report is not None and '"sandbox"' in report
    kept = fleet.store.stored_run(record.id)  # so `detonate rejudge --db` can judge it again
    assert kept is not None and kept.data is not None, kept
    assert fleet.queue.depth() == 0
    assert worker.process.poll() is None  # the worker lives on after its child's one task


@pytest.mark.slow
def test_a_scan_cancelled_while_queued_is_skipped_by_the_worker(fleet, built_samples) -> None:
    cancelled = fleet.queue_sample(built_samples["benign-web"], profile="static")
    kept = fleet.queue_sample(built_samples["planted-static"], profile="static")
    assert fleet.queue.cancel(cancelled.id)
    assert fleet.store.get_scan(cancelled.id).reason == "cancelled before it started"
    fleet.start_worker()
    assert fleet.wait_for(kept.id).status is ScanStatus.DONE  # the queue was worked through
    after = fleet.store.get_scan(cancelled.id)
    assert (after.status, after.attempts) == (ScanStatus.FAILED, 0)  # never claimed
    assert fleet.queue.depth() == 0
    assert not fleet.queue.cancel(cancelled.id)  # finished: nothing to cancel


def _simulators_of(pids: list[int]) -> list[str]:
    """The simulator namespaces whose analyser is one of `pids`."""
    return [n for n in list_namespaces() if (namespace_owner(n) or (0, 0))[0] in pids]


def _wait_until(check: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)
    return check()


def test_a_waiting_scan_process_has_its_simulator_started_and_a_static_scan_ends_it(
    fleet, built_samples
) -> None:
    """Each fresh scan process starts its scan's simulated internet while its task comes; a
    scan that runs no sandbox (static) ends it with the task instead of leaving it behind."""
    worker = fleet.start_worker()
    assert _wait_until(lambda: bool(_simulators_of(worker.pool_children())))  # no task yet
    first = worker.pool_children()
    record = fleet.queue_sample(built_samples["planted-static"], profile="static")
    assert fleet.wait_for(record.id).status is ScanStatus.DONE
    assert _wait_until(lambda: not set(first) & set(worker.pool_children()))  # replaced
    assert _wait_until(lambda: not _simulators_of(first))  # the static scan's process: none
    assert _wait_until(lambda: bool(_simulators_of(worker.pool_children())))  # the next one's


@pytest.mark.slow
def test_each_scan_has_a_fresh_process_writing_with_the_workers_warmed_store(
    fleet, built_samples
) -> None:
    """The pool processes use the store the worker's main process warmed (its statements
    compiled by a scan rehearsed and rolled back, task.preload): still one process per scan,
    each scan's report written, and nothing of the rehearsal in the store."""
    worker = fleet.start_worker()
    planted = fleet.queue_sample(built_samples["planted-static"], profile="static")
    assert fleet.wait_for(planted.id).status is ScanStatus.DONE
    benign = fleet.queue_sample(built_samples["benign-web"], profile="static")
    assert fleet.wait_for(benign.id).status is ScanStatus.DONE
    for record in (planted, benign):
        finished = fleet.store.get_scan(record.id)
        assert finished.attempts == 1
        assert finished.judged_ruleset_hash  # the report's judgement, written by the child
        assert fleet.store.report_json(record.id)
        assert len(fleet.store.judgements(record.id)) == 1
    assert fleet.store.get_scan(planted.id).verdict == "malicious"
    assert [r.id for r in fleet.store.list_scans()] == [benign.id, planted.id]  # no rehearsal
    # "scan … in process N: process start …", logged by each scan's process at its task's end
    ran_in = dict(re.findall(r"scan (\S+) in process (\d+):", worker.log.read_text()))
    assert set(ran_in) == {planted.id, benign.id}
    assert ran_in[planted.id] != ran_in[benign.id]  # a fresh process per scan
    assert str(worker.process.pid) not in ran_in.values()
