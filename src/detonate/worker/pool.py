"""The worker's pool: Celery's prefork pool, handing back a finished one-task process sooner.

    app.conf.worker_pool = "detonate.worker.pool:TaskPool"     # settings_for() sets it

With a fresh process per scan (max tasks per child 1) every scan ends with billiard's hand-back
of its process: the process sends READY (its result) and waits until the main process has
read it, sends DEATH, is sent SIGTERM and exits; the main process sees the exit, reaps it,
reads what is left in its result pipe and forks the next one. Three waits in that hand-back
were timers, not work (measured with the monotonic clock in both processes, docs/fleet.md):

- the finished process looked whether its READY had been read every 0.1 s, and its first look
  usually came before the main process had read it (0.1 s lost in most scans);
- the main process's wake-up on the exit sometimes came a moment before the process was
  reapable (it has closed its files, not yet become a zombie); the next look was the
  worker's 0.1 s replacement check (run.PromptReplacement);
- the reaped process's result pipe was read to its end twice, each time waiting 10 ms for
  more (what a live process might still be writing; a reaped one writes nothing).

Here each wait keeps its purpose and its patience and looks every few milliseconds. The same
messages in the same order, one task per process, no prefetch, late acks and the handling
of a process that dies are Celery's own.
"""

from __future__ import annotations

import errno
import select
import time
from typing import Any

from billiard import pool as billiard_pool
from celery.concurrency import asynpool, prefork

POLL_SECONDS = 0.002  # the main process reads READY within milliseconds of it being sent
# billiard's patience for that: 300 looks 0.1 s apart
PATIENCE_SECONDS = (
    billiard_pool.GUARANTEE_MESSAGE_CONSUMPTION_RETRY_LIMIT
    * billiard_pool.GUARANTEE_MESSAGE_CONSUMPTION_RETRY_INTERVAL
)
REAP_POLL_SECONDS = 0.002  # looks for a process whose exit was seen before it was reapable
REAP_LOOKS = 50  # then the worker's periodic replacement check takes over


class ScanProcess(asynpool.Worker):  # type: ignore[misc]
    """A pool process (this code runs in the child): it waits for its result's receipt in
    POLL_SECONDS steps rather than billiard's 0.1 s."""

    def _ensure_messages_consumed(self, completed: int) -> bool:
        counter = self.on_ready_counter
        if not counter:
            return False
        deadline = time.monotonic() + PATIENCE_SECONDS
        while counter.value < completed:
            if time.monotonic() > deadline:
                billiard_pool.warning(
                    "could not ensure all messages were consumed prior to exiting"
                )
                return False
            time.sleep(POLL_SECONDS)
        return True


class ScanPool(asynpool.AsynPool):  # type: ignore[misc]
    Worker = ScanProcess

    def _event_process_exit(self, hub: Any, proc: Any) -> None:
        super()._event_process_exit(hub, proc)  # reaps it and forks the next, if it can
        if proc in self._pool:  # seen before it was reapable: look again shortly
            hub.call_later(REAP_POLL_SECONDS, self._reap_again, hub, proc, REAP_LOOKS)

    def _reap_again(self, hub: Any, proc: Any, looks: int) -> None:
        self.maintain_pool()
        if proc in self._pool and looks > 1:
            hub.call_later(REAP_POLL_SECONDS, self._reap_again, hub, proc, looks - 1)

    def process_flush_queues(self, proc: Any) -> None:
        """Read what a process left in its result pipe. Celery's waits 10 ms after each read
        for more, which only a live process can send (a consumer restart flushes live ones):
        for a reaped process, whose messages are all in the pipe, nothing is waited for."""
        if proc.exitcode is None:
            super().process_flush_queues(proc)
            return
        reader = proc.outq._reader
        on_state_change = self._result_handler.on_state_change
        while not reader.closed and self._state != billiard_pool.TERMINATE:
            try:
                readable, _, _ = select.select([reader], [], [], 0)
            except (OSError, ValueError):  # closed meanwhile
                return
            if not readable:
                return
            try:
                message = reader.recv()
            except (OSError, EOFError) as error:
                if getattr(error, "errno", None) == errno.EINTR:
                    continue
                return
            if message is None:
                return
            on_state_change(message)


class TaskPool(prefork.TaskPool):  # type: ignore[misc]
    """`--pool=prefork` with ScanPool (the worker's `worker_pool` setting names this)."""

    Pool = ScanPool
