"""The prunable parts of the cache dir, each a list of items with a size and a last use.

    layers/<key>/              unpacked layers (last use: the marker's mtime, set on each use)
    oci/blobs/sha256/<hex>     pulled blobs (last use: mtime, set when a scan leases them)
    rootfs/<key>/              merged rootfs dirs of detonate before layer dirs: never read
                               now, so any prune (also the budget after a scan) removes them

Another cache (static results by content, say) joins by adding a root to `prunable_roots`:
an item's id is "<root name>:<item name>", which is what a scan's lease names to keep it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from detonate.model.image import AcquiredImage
from detonate.unpack.layer_store import (
    MARKER_NAME,
    LayerStore,
    disk_bytes,
    layer_keys,
    read_marker,
)
from detonate.unpack.tree_removal import remove_tree


@dataclass(frozen=True)
class Item:
    id: str  # "layer:v2-chain-…", "blob:sha256:…"
    path: Path
    bytes: int
    last_used: float  # seconds since the epoch


@dataclass(frozen=True)
class CacheRoot:
    name: str
    list_items: Callable[[], list[Item]]
    remove: Callable[[Item], None]
    obsolete: bool = False  # nothing reads it any more: every prune removes all of it


def _remove_path(item: Item) -> None:
    try:
        st = os.lstat(item.path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        remove_tree(item.path)
    else:
        os.unlink(item.path)


def directory_root(name: str, directory: Path, obsolete: bool = False) -> CacheRoot:
    """Each child of `directory` (but dot-names) is an item; last use is its mtime."""

    def list_items() -> list[Item]:
        items = []
        try:
            children = list(os.scandir(directory))
        except FileNotFoundError:
            return []
        for child in children:
            if child.name.startswith("."):
                continue
            st = child.stat(follow_symlinks=False)
            size = disk_bytes(Path(child.path)) if child.is_dir(follow_symlinks=False) else 0
            size += st.st_blocks * 512
            items.append(Item(f"{name}:{child.name}", Path(child.path), size, st.st_mtime))
        return items

    return CacheRoot(name, list_items, _remove_path, obsolete)


def layer_root(cache_dir: Path) -> CacheRoot:
    store = LayerStore(cache_dir)

    def list_items() -> list[Item]:
        items = []
        for key in store.entry_keys():
            directory = store.base / key
            marker = read_marker(directory)
            try:
                used = os.stat(directory / MARKER_NAME).st_mtime
            except OSError:
                used = os.stat(directory).st_mtime  # no marker: damaged, first to go
            size = marker.get("bytes") if marker else None
            if not isinstance(size, int):
                size = disk_bytes(directory)
            items.append(Item(f"layer:{key}", directory, size, used))
        return items

    def remove(item: Item) -> None:
        store.discard(item.path.name)

    return CacheRoot("layer", list_items, remove)


def blob_root(cache_dir: Path) -> CacheRoot:
    blobs = Path(cache_dir) / "oci" / "blobs"

    def list_items() -> list[Item]:
        items = []
        for algorithm in sorted(blobs.iterdir()) if blobs.is_dir() else []:
            for blob in os.scandir(algorithm):
                if blob.name.startswith("."):
                    continue  # a blob being written
                st = blob.stat(follow_symlinks=False)
                item_id = f"blob:{algorithm.name}:{blob.name}"
                items.append(Item(item_id, Path(blob.path), st.st_blocks * 512, st.st_mtime))
        return items

    return CacheRoot("blob", list_items, _remove_path)


def prunable_roots(cache_dir: Path) -> list[CacheRoot]:
    """Everything `detonate cache prune` may evict. Add a root here for a new cache."""
    cache_dir = Path(cache_dir)
    return [
        layer_root(cache_dir),
        blob_root(cache_dir),
        directory_root("rootfs", cache_dir / "rootfs", obsolete=True),
    ]


def image_items(image: AcquiredImage) -> list[str]:
    """What a scan of `image` uses: its blobs and its layer dirs (touched: used now)."""
    blobs = [image.digest, image.config_digest, *(layer.digest for layer in image.layers)]
    for digest in blobs:
        with contextlib.suppress(OSError):
            os.utime(image.blob_path(digest))
    return [f"blob:{d}" for d in blobs] + [f"layer:{key}" for key in layer_keys(image)]
