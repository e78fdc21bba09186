"""Stored verdicts, remembered for a few seconds in the admission path.

A cluster asks about the same few digests over and over (every replica, every rollout, every
restart), and a store query costs milliseconds on a busy machine: a verdict once read is kept
for `ttl_seconds`. Only verdicts are kept, never their absence, so a scan that finishes is seen
by the next review. A digest's bytes never change; only a rescan under new rules can change its
verdict, and that shows after at most the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class VerdictLookup(Protocol):
    def verdict_for(self, digest: str, platform: str = ...) -> Any: ...


class VerdictCache:
    def __init__(
        self,
        store: VerdictLookup,
        ttl_seconds: float = 10.0,
        max_entries: int = 8192,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.ttl_seconds, self.max_entries, self.clock = (
            store,
            ttl_seconds,
            max_entries,
            clock,
        )
        self.queries = 0  # store round trips: tests prove the cache with it
        self._kept: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def verdict_for(self, digest: str, platform: str) -> Any:
        key = (digest, platform)
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]
        self.queries += 1
        found = self.store.verdict_for(digest, platform)
        if found is not None and self.ttl_seconds > 0:
            with self._lock:
                if len(self._kept) >= self.max_entries:
                    self._kept.clear()  # simple and bounded: the hot digests come back at once
                self._kept[key] = (now + self.ttl_seconds, found)
        return found
