"""Pushed images → queued scans, one per manifest digest, never awaited.

An image whose payload names its digest and an image manifest is requested at once (a store
write: milliseconds). One that names only a tag (Docker Hub), or whose digest may be an index
(Harbor, GHCR, a distribution index push), needs a registry lookup first: that runs on a small
worker pool after the sender has had its answer. A push already waiting for its lookup is not
looked up twice, and the store's request is idempotent by digest, so a flood of one push is one
scan. No lookup is cached: a push means the tag has just moved.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from detonate.acquire.reference import Reference, parse_reference
from detonate.acquire.resolve import Resolved
from detonate.errors import DetonateError, IntegrationError
from detonate.model.image import Platform
from detonate.queue import ScanQueue
from detonate.service.registry_events import PushedImage
from detonate.service.scans import Resolver, request_and_queue
from detonate.store import Source, Store

_log = logging.getLogger(__name__)


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
        store: Store,
        queue: ScanQueue,
        resolver: Resolver,
        platform: Platform,
        *,
        profile: str = "full",
        workers: int = 2,
        max_pending: int = 256,
    ) -> None:
        self.store = store
        self.queue = queue
        self.resolver = resolver
        self.platform = platform
        self.profile = profile
        self.max_pending = max_pending
        self.failures = 0  # lookups or requests that came to nothing (logged)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="detonate-intake")
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def accept(self, image: PushedImage) -> Accepted:
        """Raises Overloaded when the lookup pool is full, StoreError when the store fails."""
        if image.digest and image.media_type and not image.is_index:
            return self._request(
                image, Resolved(_named(image), image.digest, "", str(self.platform))
            )
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
            resolved = self.resolver.resolve(parse_reference(image.reference), self.platform)
            # Keep the tag the push named: it is recorded as now pointing at the digest.
            self._request(
                image,
                Resolved(_named(image), resolved.digest, resolved.index_digest, resolved.platform),
            )
        except DetonateError as error:
            self.failures += 1
            _log.warning("webhook: %s not queued: %s", image.reference, error.message)
        except Exception:  # a worker thread has no caller to raise to: log it, count it
            self.failures += 1
            _log.exception("webhook: %s not queued", image.reference)
        finally:
            with self._lock:
                self._pending.discard(key)

    def _request(self, image: PushedImage, resolved: Resolved) -> Accepted:
        pinned = f"docker://{image.name}@{resolved.digest}"
        scan, created = request_and_queue(
            self.store,
            self.queue,
            resolved,
            source=Source.WEBHOOK,
            profile=self.profile,
            reference=pinned,
        )
        return Accepted(image, resolved.digest, scan.id, created)


def _named(image: PushedImage) -> Reference:
    """The reference a push names: by tag when it has one (the tag is then recorded)."""
    if image.tag:
        return parse_reference(f"docker://{image.name}:{image.tag}")
    return parse_reference(image.reference)
