"""`detonate cache stats` and `detonate cache prune`, and the size budget after each scan.

Eviction is least recently used first, over every prunable root (roots.py) together, and skips
what a running scan has leased (leases.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from detonate.cache.leases import live_items, prune_lock
from detonate.cache.roots import CacheRoot, Item, prunable_roots
from detonate.errors import UsageError
from detonate.model.options import GiB
from detonate.unpack.layer_store import LayerStore

DEFAULT_MAX_BYTES = 20 * GiB
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_bytes(text: str) -> int:
    """ "20G", "512m", "1000" → bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)i?b?\s*", text.lower())
    if not match:
        raise UsageError(f"not a size: {text!r}", hint="e.g. 20G, 512M or a number of bytes")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_duration(text: str) -> float:
    """ "7d", "12h", "30m", "90s" → seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text.lower())
    if not match:
        raise UsageError(f"not a duration: {text!r}", hint="e.g. 7d, 12h, 30m or 90s")
    return int(match.group(1)) * _SECONDS[match.group(2)]


@dataclass(frozen=True)
class RootStats:
    name: str
    items: int
    bytes: int
    oldest_use: float | None
    newest_use: float | None


@dataclass(frozen=True)
class CacheStats:
    roots: tuple[RootStats, ...]
    layer_hits: int
    layer_misses: int

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.roots)

    @property
    def hit_rate(self) -> float | None:
        total = self.layer_hits + self.layer_misses
        return self.layer_hits / total if total else None


@dataclass
class PruneResult:
    removed: list[Item] = field(default_factory=list)
    kept_in_use: int = 0  # items a running scan holds that would otherwise have gone
    bytes_after: int = 0
    skipped: bool = False  # another prune was running (only when not waiting)

    @property
    def freed(self) -> int:
        return sum(item.bytes for item in self.removed)


def _root_stats(root: CacheRoot, items: list[Item]) -> RootStats:
    uses = [item.last_used for item in items]
    return RootStats(
        root.name,
        len(items),
        sum(item.bytes for item in items),
        min(uses) if uses else None,
        max(uses) if uses else None,
    )


def cache_stats(cache_dir: Path) -> CacheStats:
    roots = tuple(_root_stats(root, root.list_items()) for root in prunable_roots(cache_dir))
    counts = LayerStore(cache_dir).counts()
    return CacheStats(roots, counts["hits"], counts["misses"])


def prune(
    cache_dir: Path,
    max_bytes: int | None = None,
    older_than: float | None = None,
    wait: bool = True,
    now: float | None = None,
) -> PruneResult:
    """Evict items not used for `older_than` seconds, then the least recently used until the
    cache is within `max_bytes`; never an item a running scan has leased."""
    result = PruneResult()
    now = time.time() if now is None else now
    with prune_lock(cache_dir, exclusive=True, wait=wait) as locked:
        if not locked:
            result.skipped = True
            return result
        in_use = live_items(cache_dir)
        roots = prunable_roots(cache_dir)
        owned = [(root, item) for root in roots for item in root.list_items()]
        owned.sort(key=lambda pair: pair[1].last_used)
        total = sum(item.bytes for _, item in owned)
        for root, item in owned:
            too_old = older_than is not None and item.last_used < now - older_than
            too_big = max_bytes is not None and total > max_bytes
            if not (too_old or too_big or root.obsolete):
                continue
            if item.id in in_use:
                result.kept_in_use += 1
                continue
            root.remove(item)
            result.removed.append(item)
            total -= item.bytes
        result.bytes_after = total
    return result


def enforce_budget(cache_dir: Path, max_bytes: int) -> PruneResult:
    """After a scan: prune to `max_bytes` unless another prune is already at it (0: never)."""
    if max_bytes <= 0:
        return PruneResult(skipped=True)
    return prune(cache_dir, max_bytes=max_bytes, wait=False)
