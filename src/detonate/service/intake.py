"""Pushed images → queued scans, one per manifest digest, never awaited.

An image whose payload names its digest and an image manifest is requested at once (a store
write: milliseconds). One that names only a tag (Docker Hub), or whose digest may be an index
(Harbor, GHCR, a distribution index push), needs a registry lookup first: that runs on a small
worker pool after the sender has had its answer. The same reference is never looked up twice at
once, and the store's request is idempotent by digest, so a flood of one push is one scan.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from detonate.acquire.reference import Reference, parse_reference
from detonate.acquire.resolve import Resolved
from detonate.errors import IntegrationError
from detonate.model.image import Platform
from detonate.service.registry_events import PushedImage

WEBHOOK_SOURCE = "webhook"
_log = logging.getLogger(__name__)


class ScanRequester(Protocol):
    """What intake needs of the store (`detonate.store.Store` has it)."""

    def request_scan(
        self,
        reference: str,
        *,
        digest: str,
        platform: str,
        source: str,
        profile: str = ...,
        priority: int = ...,
    ) -> tuple[Any, bool]: ...

    def observe_tag(self, repository: str, tag: str, digest: str, source: str) -> Any: ...


class ScanSubmitter(Protocol):
    def submit(self, scan_id: Any) -> Any: ...


class DigestResolver(Protocol):
    def lookup(self, reference: Reference) -> Resolved | None: ...


class Overloaded(IntegrationError):
    """More lookups are waiting than the pool should hold: the sender should retry later."""


@dataclass(frozen=True)
class Accepted:
    image: PushedImage
    digest: str = ""  # the platform's manifest digest; "" while it is being resolved
    scan_id: str = ""
    created: bool = False

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"image": self.image.name, "tag": self.image.tag}
        if self.scan_id:
            answer.update(digest=self.digest, scan=self.scan_id, created=self.created)
        else:
            answer["status"] = "resolving"
        return answer


class PushIntake:
    def __init__(
        self,
        store: ScanRequester,
        queue: ScanSubmitter,
        resolver: DigestResolver,
        platform: Platform,
        *,
        profile: str = "default",
        workers: int = 2,
        max_pending: int = 256,
    ) -> None:
        self.store = store
        self.queue = queue
        self.resolver = resolver
        self.platform = platform
        self.profile = profile
        self.max_pending = max_pending
        self.failures = 0  # lookups that found nothing: counted, and logged by the caller
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="detonate-intake")
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def accept(self, image: PushedImage) -> Accepted:
        if image.digest and image.media_type and not image.is_index:
            return self._request(image, image.digest)
        self._defer(image)
        return Accepted(image)

    def wait_idle(self, timeout: float) -> bool:
        """For tests and shutdown: wait until no lookup is pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _defer(self, image: PushedImage) -> None:
        key = image.reference
        with self._lock:
            if key in self._pending:
                return  # the same push, again: one lookup serves both
            if len(self._pending) >= self.max_pending:
                raise Overloaded(
                    f"{len(self._pending)} registry lookups are already waiting",
                    "retry later; registries resend notifications that were not acknowledged",
                )
            self._pending.add(key)
        self._pool.submit(self._resolve_then_request, image, key)

    def _resolve_then_request(self, image: PushedImage, key: str) -> None:
        try:
            resolved = self.resolver.lookup(parse_reference(image.reference))
            if resolved is None:
                self.failures += 1
                return
            self._request(image, resolved.digest)
        except Exception:  # a worker thread has no caller to raise to: log it, count it
            self.failures += 1
            _log.exception("webhook intake of %s failed", image.reference)
        finally:
            with self._lock:
                self._pending.discard(key)

    def _request(self, image: PushedImage, digest: str) -> Accepted:
        scan, created = self.store.request_scan(
            f"docker://{image.name}@{digest}",
            digest=digest,
            platform=str(self.platform),
            source=WEBHOOK_SOURCE,
            profile=self.profile,
        )
        if image.tag:
            self.store.observe_tag(image.name, image.tag, digest, WEBHOOK_SOURCE)
        scan_id = str(scan.id)
        if created:
            self.queue.submit(scan.id)
        return Accepted(image, digest, scan_id, created)
