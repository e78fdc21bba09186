"""`detonate honeypot-worker`: runs the scans honeypots queued, in its own process.

    finished = drain(store, options)            # every queued honeypot scan, oldest first
    serve_queue(store, options, stop)           # drain, sleep, drain … until `stop` is set

The honeypot only queues (it must never run what attackers send); this process, on the same
store, detonates. `detonate serve` on the same store also runs them, but only those it finds
queued when it starts: it does not poll.
"""

from __future__ import annotations

import threading

from detonate.acquire.reference import parse_reference
from detonate.errors import DetonateError
from detonate.model.options import ScanOptions
from detonate.queue.worker import run_scan
from detonate.store import ScanFilter, ScanRecord, ScanStatus, Source, Store

BATCH = 100
DEFAULT_REGISTRIES = ("docker.io",)


def registry_of(reference: str) -> str:
    """ "docker://alpine:3.19" → "docker.io"; "docker://reg.test:5000/a/b:1" → "reg.test:5000"."""
    repository = parse_reference(reference).repository
    first, slash, _ = repository.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def drain(
    store: Store,
    options: ScanOptions,
    cancel: threading.Event | None = None,
    registries: tuple[str, ...] = DEFAULT_REGISTRIES,
) -> list[ScanRecord]:
    """Run the queued honeypot scans whose image lives in one of `registries`. The attacker
    names the registry: images from others are failed with the reason, never pulled. Setting
    `cancel` stops the worker: the scan it runs goes back to the queue, no other starts."""
    queued = store.list_scans(ScanFilter(status=ScanStatus.QUEUED, limit=BATCH))
    finished = []
    for record in sorted(queued, key=lambda r: r.created_at):  # oldest deployment first
        if record.source is not Source.HONEYPOT or (cancel is not None and cancel.is_set()):
            continue
        try:
            registry = registry_of(record.reference)
        except DetonateError:
            registry = ""
        if registry not in registries:
            reason = f"registry {registry or '?'} not allowed (--allow-registry): attacker-chosen"
            finished.append(store.mark_failed(record.id, reason))
            continue
        # a worker stopping puts the scan it was running back in the queue
        done = run_scan(store, record.id, options, cancel=cancel, shutting_down=cancel)
        if done is not None:
            finished.append(done)
    return finished


def serve_queue(
    store: Store,
    options: ScanOptions,
    stop: threading.Event,
    poll_seconds: float = 5.0,
    registries: tuple[str, ...] = DEFAULT_REGISTRIES,
) -> None:
    while not stop.is_set():
        if not drain(store, options, stop, registries):
            stop.wait(poll_seconds)
