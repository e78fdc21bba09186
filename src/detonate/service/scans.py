"""Asking for a scan from anywhere in the service (API, webhooks, Harbor, admission): resolve
the reference to a digest once, record the request in the store, queue it if it is new.

    resolved = resolver.resolve("docker://registry.test/app:1", "linux/amd64")
    scan, created = request_and_queue(store, queue, resolved, source=Source.WEBHOOK)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from detonate.acquire.reference import Reference
from detonate.acquire.resolve import Resolved, resolve
from detonate.model.image import Platform
from detonate.model.options import AcquireOptions
from detonate.queue import ScanQueue
from detonate.service.metrics import SCAN_REQUESTS
from detonate.service.scan_credentials import PullCredentials
from detonate.store import ScanRecord, Source, Store


class Resolver:
    """Digest lookups with a time bound, and single-flight: concurrent lookups of the same
    reference share one `skopeo inspect` (a flood of requests is one registry round trip),
    while every later request looks again (a tag may have moved)."""

    def __init__(self, timeout_seconds: int, tls_verify: bool = True) -> None:
        self.timeout_seconds, self.tls_verify = timeout_seconds, tls_verify
        self._lock = threading.Lock()
        self._flying: dict[tuple[str, str, PullCredentials | None], Future[Resolved]] = {}

    def resolve(
        self, reference: Reference, platform: Platform, credentials: PullCredentials | None = None
    ) -> Resolved:
        """`credentials`: the request's own (Harbor's), instead of the service's; lookups
        share a flight only with lookups that bring the same credentials."""
        key = (str(reference), str(platform), credentials)
        with self._lock:
            flying = self._flying.get(key)
            leader = flying is None
            if flying is None:
                flying = self._flying[key] = Future()
        if not leader:
            return flying.result()
        try:
            options = AcquireOptions(
                platform=platform, tls_verify=self.tls_verify, timeout_seconds=self.timeout_seconds
            )
            if credentials is not None:
                options = credentials.applied_to(options)
            flying.set_result(resolve(reference, options))
        except BaseException as error:
            flying.set_exception(error)
        finally:
            with self._lock:
                del self._flying[key]
        return flying.result()


def request_and_queue(
    store: Store,
    queue: ScanQueue,
    resolved: Resolved,
    *,
    source: Source | str,
    profile: str = "full",
    priority: int = 0,
    reference: str = "",
    before_queue: Callable[[ScanRecord], None] | None = None,
) -> tuple[ScanRecord, bool]:
    """The scan for `resolved` (created and queued when new) and whether it was created; a
    tag in the reference is recorded as seen pointing at the digest. `before_queue` sees the
    record before a worker may take it (to leave the scan's pull credentials)."""
    ref = resolved.reference
    record, created = store.request_scan(
        reference or str(ref),
        digest=resolved.digest,
        platform=resolved.platform,
        source=source,
        profile=profile,
        priority=priority,
        index_digest=resolved.index_digest,
    )
    if ref.transport == "docker" and ref.tag:
        store.observe_tag(ref.repository, ref.tag, resolved.top_digest, source)
    if before_queue is not None:
        before_queue(record)
    if created:
        queue.submit(record.id, record.priority)
    SCAN_REQUESTS.labels(str(Source(source)), str(created).lower()).inc()
    return record, created
