"""What the keeper remembers per thread or process, bounded: most entries are of threads and
processes long gone (a shell countdown's rounds are a new process each)."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(known: dict[K, V], key: K, value: V, limit: int) -> None:
    """`known[key] = value` as the newest entry; the oldest goes beyond `limit` entries."""
    known.pop(key, None)
    known[key] = value
    if len(known) > limit:
        del known[next(iter(known))]
