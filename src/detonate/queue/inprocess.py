"""A pool of worker threads in the service's process: the default queue.

    queue = InProcessQueue(store, ScanOptions(...), concurrency=1)
    queue.resume()          # scans the store holds as queued or running (a restart) run again
    queue.submit(scan.id)

Threads, not processes: the sample runs in the sandbox (runc, its own namespaces), never here;
the server process only parses traces and writes the store. One worker fits a 2-core machine.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading

from detonate.model.options import ScanOptions
from detonate.queue.worker import AcquireFor, Observer, run_scan
from detonate.store import Store

log = logging.getLogger("detonate.queue")
STOP = ""  # the sentinel id that ends a worker


def default_concurrency() -> int:
    """One scan per two cores: a run uses about one for the sample and one for the tracer."""
    return max(1, (os.cpu_count() or 1) // 2)


class InProcessQueue:
    def __init__(
        self,
        store: Store,
        options: ScanOptions,
        concurrency: int | None = None,
        observe: Observer | None = None,
        acquire_for: AcquireFor | None = None,
    ) -> None:
        self.store, self.options, self.observe = store, options, observe
        self.acquire_for = acquire_for
        self.concurrency = concurrency or default_concurrency()
        self._waiting: queue.PriorityQueue[tuple[int, int, str]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._pending: set[str] = set()  # submitted, not yet taken by a worker
        self._running: dict[str, threading.Event] = {}
        self._closed = False
        self._shutting_down = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"detonate-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def resume(self) -> tuple[int, int]:
        """Queue again what the store says was queued or running: (requeued, poisoned)."""
        _, poisoned = self.store.requeue_interrupted()
        for record in poisoned:
            log.warning("scan %s poisoned: %s", record.id, record.reason)
        active = self.store.active_scans()
        for record in active:
            self.submit(record.id, record.priority)
        return len(active), len(poisoned)

    def submit(self, scan_id: str, priority: int = 0) -> None:
        with self._lock:
            if self._closed or scan_id in self._pending or scan_id in self._running:
                return
            self._pending.add(scan_id)
        self._waiting.put((-priority, next(self._order), scan_id))

    def cancel(self, scan_id: str) -> bool:
        with self._lock:
            if scan_id in self._pending:
                self._pending.discard(scan_id)  # the worker that dequeues it skips it
                waiting = True
            elif scan_id in self._running:
                self._running[scan_id].set()
                return True
            else:
                return False
        if waiting:
            self.store.mark_failed(scan_id, "cancelled before it started")
        return True

    def depth(self) -> int:
        with self._lock:
            return len(self._pending)

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def workers_alive(self) -> bool:
        return not self._closed and all(thread.is_alive() for thread in self._threads)

    def close(self, timeout: float = 30.0) -> None:
        """Stop: waiting scans stay queued in the store, running ones are cancelled and
        queued again there; the next start resumes them all."""
        with self._lock:
            self._closed = True
            self._shutting_down.set()
            self._pending.clear()
            for event in self._running.values():
                event.set()
        for _ in self._threads:
            self._waiting.put((-(2**31), next(self._order), STOP))
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            _, _, scan_id = self._waiting.get()
            if scan_id == STOP:
                return
            cancel = threading.Event()
            with self._lock:
                if scan_id not in self._pending:  # cancelled while waiting
                    continue
                self._pending.discard(scan_id)
                self._running[scan_id] = cancel
            try:
                run_scan(
                    self.store,
                    scan_id,
                    self.options,
                    cancel,
                    self.observe,
                    self._shutting_down,
                    self.acquire_for,
                )
            except Exception:  # a store outage: the scan stays queued/running for resume()
                log.exception("worker could not run scan %s", scan_id)
            finally:
                with self._lock:
                    self._running.pop(scan_id, None)
