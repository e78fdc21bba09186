"""Image names in pod specs → manifest digests, within a budget, remembered for a while.

    nginx:1.25                              → one bounded `skopeo inspect`, then cached
    registry.test/app@sha256:0123…          → used as is: no lookup
    registry.unreachable.test/app:1         → None (unknown), and remembered briefly

An admission answer must come in well under a second and a registry may be slow or down: the
lookup is killed at `timeout_seconds`, and a failure makes the image unknown (the policy decides
what unknown means), never an error of the admission request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from detonate.acquire.interface import ImageSource
from detonate.acquire.reference import Reference, parse_reference
from detonate.acquire.resolve import Resolved, resolve
from detonate.acquire.skopeo import SkopeoSource
from detonate.errors import DetonateError
from detonate.model.image import Platform
from detonate.model.options import AcquireOptions


@dataclass(frozen=True)
class ResolverSettings:
    platform: Platform = field(default_factory=Platform)
    timeout_seconds: int = 2  # skopeo's whole lookup, killed after this
    ttl_seconds: float = 60.0  # a tag may move: do not remember its digest for long
    failure_ttl_seconds: float = 10.0  # do not hammer a registry that is down
    max_entries: int = 4096
    tls_verify: bool = True


class CachedResolver:
    """Thread-safe: webhooks resolve from worker threads, admission from the request thread."""

    def __init__(
        self,
        settings: ResolverSettings,
        source: ImageSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.options = AcquireOptions(
            platform=settings.platform,
            tls_verify=settings.tls_verify,
            timeout_seconds=settings.timeout_seconds,
        )
        self.source = source or SkopeoSource(self.options)
        self.clock = clock
        self.lookups = 0  # registry round trips: tests prove the cache with it
        self._cache: dict[str, tuple[float, Resolved | None]] = {}
        self._lock = threading.Lock()

    def digest_for(self, image: str) -> str | None:
        """The digest admission looks verdicts up by; None when it cannot be known in time."""
        try:
            reference = parse_reference(image)
        except DetonateError:
            return None
        if reference.digest:
            return reference.digest
        resolved = self.lookup(reference)
        return resolved.digest if resolved else None

    def known(self, image: str) -> tuple[bool, str | None]:
        """(True, digest) when no lookup is needed (pinned, or remembered); else (False, None)."""
        try:
            reference = parse_reference(image)
        except DetonateError:
            return True, None
        if reference.digest:
            return True, reference.digest
        with self._lock:
            hit = self._cache.get(str(reference))
        if hit is not None and hit[0] > self.clock():
            return True, hit[1].digest if hit[1] else None
        return False, None

    def lookup(self, reference: Reference) -> Resolved | None:
        key = str(reference)
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        resolved: Resolved | None
        try:
            self.lookups += 1
            resolved = resolve(reference, self.options, self.source)
            ttl = self.settings.ttl_seconds
        except DetonateError:
            resolved, ttl = None, self.settings.failure_ttl_seconds
        with self._lock:
            if len(self._cache) >= self.settings.max_entries:
                self._evict(now)
            self._cache[key] = (self.clock() + ttl, resolved)
        return resolved

    def _evict(self, now: float) -> None:
        for key in [key for key, (expires, _) in self._cache.items() if expires <= now]:
            del self._cache[key]
        while len(self._cache) >= self.settings.max_entries:  # all fresh: drop the oldest
            del self._cache[next(iter(self._cache))]
