"""The worker's pool (worker/pool.py): Celery's prefork pool, its one-task processes handed
back without the 0.1 s and 10 ms timers of billiard's and Celery's hand-back."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import billiard
import pytest

from detonate.worker.app import FleetConfig, settings_for
from detonate.worker.pool import ScanPool, ScanProcess, TaskPool

MESSAGE = 99  # a message type of this test's own, handed to its handler


def test_the_worker_runs_on_this_pool() -> None:
    from celery.concurrency import get_implementation

    settings = settings_for(FleetConfig("redis://127.0.0.1:6379/0"))
    assert get_implementation(settings["worker_pool"]) is TaskPool
    assert TaskPool.Pool is ScanPool and ScanPool.Worker is ScanProcess


def test_a_finished_process_leaves_as_soon_as_its_result_is_read() -> None:
    """The process waits until the main process has counted its READY (so that the result is
    not lost with it); billiard looks every 0.1 s, this every few milliseconds."""
    context = billiard.get_context()
    counter = context.Value("i")
    process = ScanProcess(context.SimpleQueue(), context.SimpleQueue(), on_ready_counter=counter)

    def main_process_reads_ready() -> None:
        time.sleep(0.03)
        with counter.get_lock():
            counter.value += 1

    reader = threading.Thread(target=main_process_reads_ready)
    started = time.monotonic()
    reader.start()
    assert process._ensure_messages_consumed(completed=1) is True
    waited = time.monotonic() - started
    reader.join()
    assert 0.03 <= waited < 0.09  # billiard's own: 0.1 s (its second look)


@pytest.fixture
def pool() -> Iterator[ScanPool]:
    made = ScanPool(processes=1, threads=False)  # forks one real pool process
    yield made
    made.terminate()


def test_a_reaped_process_result_pipe_is_read_without_waiting(pool: ScanPool) -> None:
    """What a dead process left in its result pipe still reaches the main process; nothing
    more can come, so no 10 ms wait for it (Celery's flush waits once each call)."""
    received: list[str] = []
    pool._result_handler.state_handlers[MESSAGE] = received.append
    process = pool._pool[0]
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert process.exitcode == -signal.SIGKILL
    took = []
    for n in range(5):
        process.outq.put((MESSAGE, (f"left {n}",)))  # the same pipe the process wrote to
        started = time.monotonic()
        pool.process_flush_queues(process)
        took.append(time.monotonic() - started)
    assert received == [f"left {n}" for n in range(5)]
    assert min(took) < 0.005  # Celery's: at least 0.01 s every time


def test_a_live_process_result_pipe_is_flushed_as_celery_does(pool: ScanPool) -> None:
    received: list[str] = []
    pool._result_handler.state_handlers[MESSAGE] = received.append
    process = pool._pool[0]
    assert process.exitcode is None
    process.outq.put((MESSAGE, ("on its way",)))
    pool.process_flush_queues(process)
    assert received == ["on its way"]


def test_an_exit_seen_before_the_process_is_reapable_is_looked_at_again_shortly(
    pool: ScanPool,
) -> None:
    """The main process can wake on a process's exit a moment before it is reapable; Celery
    then waits for the worker's 0.1 s replacement check. ScanPool looks again every few
    milliseconds on the worker's own event loop (a real kombu Hub here), reaps the process
    and forks the next as soon as it can."""
    from kombu.asynchronous import Hub

    hub = Hub()
    pool.register_with_event_loop(hub)  # as the worker does: its handlers of a process's exit
    process = pool._pool[0]
    pool._event_process_exit(hub, process)  # woken while it still runs: not reapable
    assert process in pool._pool
    os.kill(process.pid, signal.SIGKILL)
    killed = time.monotonic()  # the hub alone runs below: nothing else calls maintain_pool
    while process in pool._pool and time.monotonic() - killed < 1:
        hub.fire_timers(max_timers=10)
        time.sleep(0.0005)
    hub.close()
    assert process not in pool._pool, "not looked at again: left to the 0.1 s check"
    assert len(pool._pool) == 1 and pool._pool[0].exitcode is None  # the next one forked
