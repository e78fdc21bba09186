"""Faults of a fleet, each with a real redis-server, real `detonate worker` processes, real
sandboxed scans of the bundled samples and a real PostgreSQL store: assertions on the store
and on the host."""

from __future__ import annotations

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from detonate.acquire.resolve import resolve
from detonate.model.options import AcquireOptions
from detonate.sandbox.watchdog import watchdogs_of
from detonate.service.scans import request_and_queue
from detonate.store import ScanStatus, Source, Store
from detonate.store.store import ScanFilter
from detonate.worker import CeleryQueue
from detonate.worker.app import TASK_NAME, URGENT
from detonate.worker.status import fleet_status, render
from detonate.worker.task import POISON_AFTER_DEATHS
from postgres import _as_postgres, start_postgres, stop_postgres

from .conftest import Fleet
from .host import kill_owner, still_there, wait_for_running_sandbox, wait_until_gone

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
SAMPLE = "delayed-dropper"


def assert_held(holdings) -> None:
    """The checker sees the live run's container, processes, tracer, mounts, cgroup and
    namespace, so an empty `still_there` afterwards means they were removed."""
    held = " ".join(still_there(holdings))
    assert holdings.namespaces
    for kind in ("owner process", "container", "process", "tracer", "mount", "cgroup", "netns"):
        assert kind + " " in held, (kind, held)


def test_a_worker_killed_mid_scan_is_redelivered_completed_once_and_swept(
    fleet, built_samples
) -> None:
    worker = fleet.start_worker()
    record = fleet.queue_sample(built_samples[SAMPLE])
    holdings = wait_for_running_sandbox(worker.pool_children)
    assert fleet.store.get_scan(record.id).status is ScanStatus.RUNNING
    assert_held(holdings)
    kill_owner(holdings)  # SIGKILL of the process running the scan, sandbox and all

    finished = fleet.wait_for(record.id)
    assert finished.status is ScanStatus.DONE, finished.reason
    assert finished.attempts == 2  # the killed attempt and the one that completed
    assert finished.verdict == "malicious"
    assert len(fleet.store.list_scans(ScanFilter(limit=10))) == 1
    assert fleet.queue.depth() == 0  # acknowledged: not delivered a third time
    assert wait_until_gone(holdings) == []
    assert worker.process.poll() is None


def test_a_whole_worker_killed_mid_scan_is_swept_and_run_again_by_another(
    fleet, built_samples
) -> None:
    """The scan processes start no watchdog of their own (each replacement sweeps its
    predecessor's leftovers); when the worker's main process dies they die with it, and the
    main process's watchdog sweeps what their runs held. No pool saw the death, so the message
    stays unacknowledged until Redis's visibility timeout (3060 s): the scan's lease, no
    longer renewed, runs out, and another worker's keeper sends the scan again."""
    lease = ("--scan-lease", "3")  # a short lease: the test's wait is about 1.5 times this
    worker = fleet.start_worker(extra=lease)
    assert watchdogs_of(worker.process.pid)  # the main process's, from its start
    record = fleet.queue_sample(built_samples[SAMPLE])
    holdings = wait_for_running_sandbox(worker.pool_children)
    assert watchdogs_of(holdings.owner) == []  # none per scan process
    assert_held(holdings)
    worker.process.send_signal(signal.SIGKILL)  # the main process; the pool's die with it
    worker.process.wait(10)

    assert wait_until_gone(holdings) == []
    assert fleet.store.get_scan(record.id).status is ScanStatus.RUNNING  # for a redelivery
    shown = render(fleet_status(fleet.store, fleet.redis.url))
    assert "gone (the scan is taken over)" in shown or "no live lease" in shown, shown

    other = fleet.start_worker(extra=lease)
    finished = fleet.wait_for(record.id, timeout=120)
    assert finished.status is ScanStatus.DONE, finished.reason
    assert finished.attempts == 2 and finished.verdict == "malicious"
    assert b"stopped renewing its lease; sending it again" in other.log.read_bytes()
    assert len(fleet.store.list_scans(ScanFilter(limit=10))) == 1
    assert fleet.queue.depth() == 0


def test_a_redelivered_duplicate_never_takes_a_live_scan_over(fleet, built_samples) -> None:
    """A message marked redelivered (a resend of one the registry limit sent back, a keeper's
    late resend) reaches an idle worker while another runs the scan: the running scan's lease
    is renewed, so the duplicate is skipped, not a second run."""
    workers = [fleet.start_worker(), fleet.start_worker()]
    record = fleet.queue_sample(built_samples[SAMPLE])
    holdings = wait_for_running_sandbox(
        lambda: [pid for worker in workers for pid in worker.pool_children()]
    )
    fleet.queue.app.send_task(
        TASK_NAME, args=[record.id], kwargs={"taken_over": True}, queue=URGENT
    )
    finished = fleet.wait_for(record.id)
    assert (finished.status, finished.attempts) == (ScanStatus.DONE, 1), finished.reason
    assert fleet.queue.depth() == 0  # the duplicate was taken, and dropped
    assert wait_until_gone(holdings) == []


def test_a_running_scan_cancelled_is_failed_torn_down_and_not_run_again(
    fleet, built_samples
) -> None:
    """`CeleryQueue.cancel` of a running scan: SIGTERM to the process running it (the sandbox
    tears down as on Ctrl-C), failed in the store; the message the pool sends back is dropped."""
    worker = fleet.start_worker()
    record = fleet.queue_sample(built_samples[SAMPLE])
    holdings = wait_for_running_sandbox(worker.pool_children)
    assert_held(holdings)
    assert fleet.queue.cancel(record.id)

    assert wait_until_gone(holdings) == []
    time.sleep(3)  # a redelivery would have claimed it again by now
    after = fleet.store.get_scan(record.id)
    assert (after.status, after.attempts) == (ScanStatus.FAILED, 1)
    assert after.reason == "cancelled while running"
    assert fleet.store.report_json(record.id) is None
    assert fleet.queue.depth() == 0
    assert worker.process.poll() is None
    assert not fleet.queue.cancel(record.id)  # over: nothing to cancel


def test_a_scan_that_kills_its_worker_twice_is_poisoned_not_retried(fleet, built_samples) -> None:
    worker = fleet.start_worker()
    record = fleet.queue_sample(built_samples[SAMPLE])
    killed = []
    for _ in range(POISON_AFTER_DEATHS):
        holdings = wait_for_running_sandbox(
            lambda: [p for p in worker.pool_children() if p not in {h.owner for h in killed}]
        )
        assert_held(holdings)
        kill_owner(holdings)
        killed.append(holdings)

    finished = fleet.wait_for(record.id)
    assert finished.status is ScanStatus.POISONED
    assert finished.attempts == POISON_AFTER_DEATHS  # no third run
    assert f"died during each of {POISON_AFTER_DEATHS} attempts" in finished.reason
    assert "sandbox" in finished.reason  # where it was when its worker died
    assert fleet.store.report_json(record.id) is None
    time.sleep(3)  # a retry would have claimed it again by now
    assert fleet.store.get_scan(record.id).attempts == POISON_AFTER_DEATHS
    assert fleet.queue.depth() == 0
    for holdings in killed:
        assert wait_until_gone(holdings) == []
    # a fresh request does not restart it either (a webhook flood must not)
    again = fleet.request(built_samples[SAMPLE])
    assert again.id == record.id and again.status is ScanStatus.POISONED


def test_tasks_queued_across_a_redis_restart_are_not_lost(fleet, built_samples) -> None:
    names = ("benign-web", "delayed-dropper", "planted-static")
    records = [fleet.queue_sample(built_samples[name]) for name in names]
    assert fleet.queue.depth() == len(names)
    fleet.redis.stop()
    fleet.redis.start()  # same port and directory: the append-only file is read back
    assert fleet.queue.depth() == len(names)

    fleet.start_worker()
    for record in records:
        finished = fleet.wait_for(record.id)
        assert (finished.status, finished.attempts) == (ScanStatus.DONE, 1), finished.reason
    assert fleet.queue.depth() == 0


def test_a_storm_of_100_identical_requests_is_one_scan(fleet, built_samples) -> None:
    sample = built_samples["benign-web"]
    resolved = resolve(sample.archive_reference, AcquireOptions())

    def ask(_: int) -> bool:
        _, created = request_and_queue(
            fleet.store, fleet.queue, resolved, source=Source.WEBHOOK,
            reference=sample.archive_reference,
        )  # fmt: skip
        return created

    with ThreadPoolExecutor(max_workers=32) as pool:
        created = list(pool.map(ask, range(100)))
    assert created.count(True) == 1
    scans = fleet.store.list_scans(ScanFilter(limit=200))
    assert len(scans) == 1
    assert fleet.queue.depth() == 1  # one message on the broker, not 100

    fleet.start_worker()
    finished = fleet.wait_for(scans[0].id)
    assert (finished.status, finished.attempts) == (ScanStatus.DONE, 1), finished.reason


def wait_accepting(db_url: str, timeout: float = 60) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(db_url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_store_outage_mid_scan_is_waited_out_and_no_result_is_lost(
    redis_server, tmp_path, built_samples
) -> None:
    """PostgreSQL (its own server here: it is stopped) goes down while the worker runs the
    sandbox and comes back 15 s later; the worker's writes wait for it."""
    server = start_postgres()
    try:
        db_url = server.new_database()
        store = Store.open(db_url)
        fleet = Fleet(redis_server, db_url, tmp_path, store, CeleryQueue(store, redis_server.url))
        try:
            worker = fleet.start_worker()
            record = fleet.queue_sample(built_samples[SAMPLE])
            wait_for_running_sandbox(worker.pool_children)
            command = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")[:-1]
            server.process.send_signal(signal.SIGINT)  # fast shutdown: connections dropped
            server.process.wait(30)
            time.sleep(15)  # the run ends meanwhile; its report cannot be written
            assert b"store unavailable" in worker.log.read_bytes()
            with open(tmp_path / "postgres-again.log", "wb") as log:
                server.process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, **_as_postgres()
                )
            wait_accepting(db_url)
            finished = fleet.wait_for(record.id)
            assert (finished.status, finished.attempts) == (ScanStatus.DONE, 1), finished.reason
            assert finished.verdict == "malicious"
            assert fleet.store.report_json(record.id) is not None
        finally:
            for worker in fleet.workers:
                worker.stop()
            fleet.queue.close()
            store.close()
    finally:
        stop_postgres(server)
