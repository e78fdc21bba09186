"""`detonate honeypot-worker`: runs the scans honeypots queued, in its own process.

    finished = drain(store, options)            # every queued honeypot scan, oldest first
    serve_queue(store, options, stop)           # drain, sleep, drain … until `stop` is set

The honeypot only queues (it must never run what attackers send); this process, on the same
store, detonates. `detonate serve` on the same store also runs them, but only those it finds
queued when it starts: it does not poll.
"""

from __future__ import annotations

import threading

from detonate.model.options import ScanOptions
from detonate.queue.worker import run_scan
from detonate.store import ScanFilter, ScanRecord, ScanStatus, Source, Store

BATCH = 100


def drain(
    store: Store, options: ScanOptions, cancel: threading.Event | None = None
) -> list[ScanRecord]:
    queued = store.list_scans(ScanFilter(status=ScanStatus.QUEUED, limit=BATCH))
    finished = []
    for record in sorted(queued, key=lambda r: r.created_at):  # oldest deployment first
        if record.source is not Source.HONEYPOT or (cancel is not None and cancel.is_set()):
            continue
        done = run_scan(store, record.id, options, cancel=cancel)
        if done is not None:
            finished.append(done)
    return finished


def serve_queue(
    store: Store, options: ScanOptions, stop: threading.Event, poll_seconds: float = 5.0
) -> None:
    while not stop.is_set():
        if not drain(store, options, stop):
            stop.wait(poll_seconds)
