"""cache_dir/layers/<key>/: one unpacked layer per chain of layers, read-only once published.

    layers/<key>/root/           what the layer adds, with overlay whiteouts (layer_writer)
    layers/<key>/index.json      its LayerRecord (layer_index)
    layers/<key>/complete.json   written last: {"format", "key", "layer", "index_sha256",
                                 "privileged", "bytes"}; its mtime is the layer's last use
    layers/.tmp-<pid>-*/         a layer being built; renamed to <key> when complete
    layers/.locks/<key>.lock     held while a layer is checked or built, so two scans that need
                                 the same layer build it once
    layers/.stats.json           hit and miss counts
    layers/empty-root/           the root of images without layers

The key is the layer's OCI ChainID (its digest chained with those below it), as container
snapshotters key theirs: how a layer unpacks depends on the layers below (a tar entry under
`lib/` lands under `usr/lib/` when a lower layer made `lib` a symlink), so two images share a
layer dir exactly when they share the layer and everything below it — a common base.

An entry is trusted only if its marker names its key and the digest of its index: a damaged,
half-copied or foreign entry is rebuilt, never used. The directories are 0700: the trees hold
setuid files owned by the container's host ids.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from detonate.model.image import AcquiredImage
from detonate.unpack import layer_index
from detonate.unpack.layer_index import LayerRecord
from detonate.unpack.tree_removal import remove_tree

FORMAT = 2  # bump when the on-disk result of unpacking a layer changes
LAYERS_DIR = "layers"
TEMP_PREFIX = ".tmp-"
ROOT_NAME = "root"
INDEX_NAME = "index.json"
MARKER_NAME = "complete.json"
STATS_NAME = ".stats.json"
EMPTY_ROOT = "empty-root"  # the root of images without layers


def layer_keys(image: AcquiredImage) -> list[str]:
    """The OCI ChainID of each layer (from diff_ids, else from the blob digests).

    ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
    """
    diff_ids = image.config.diff_ids
    if diff_ids and len(diff_ids) == len(image.layers):
        kind, chain = "chain", list(diff_ids)
    else:
        kind, chain = "blobs", [layer.digest for layer in image.layers]
    keys: list[str] = []
    chain_id = ""
    for digest in chain:
        if chain_id:
            chain_id = "sha256:" + hashlib.sha256(f"{chain_id} {digest}".encode()).hexdigest()
        else:
            chain_id = digest
        keys.append(f"v{FORMAT}-{kind}-{chain_id.partition(':')[2]}")
    return keys


@dataclass(frozen=True)
class CachedLayer:
    key: str
    root: Path
    record: LayerRecord


class LayerStore:
    def __init__(self, cache_dir: Path) -> None:
        self.base = Path(cache_dir) / LAYERS_DIR
        self.privileged = os.geteuid() == 0

    def root_of(self, key: str) -> Path:
        return self.base / key / ROOT_NAME

    # -- use ----------------------------------------------------------------------------------

    def load(self, key: str, index: int, digest: str) -> CachedLayer | None:
        """The published layer `key` if its marker and index check out, else None."""
        directory = self.base / key
        marker = read_marker(directory)
        if marker is None or marker.get("key") != key or marker.get("format") != FORMAT:
            return None
        if self.privileged and not marker.get("privileged"):
            return None  # unpacked without root: no whiteouts on disk, wrong owners
        try:
            data = (directory / INDEX_NAME).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != marker.get("index_sha256"):
            return None
        if not (directory / ROOT_NAME).is_dir():
            return None
        record = layer_index.loads(data, index, digest)
        if record is None:
            return None
        with contextlib.suppress(OSError):
            os.utime(directory / MARKER_NAME)  # last use, for least-recently-used eviction
        return CachedLayer(key, directory / ROOT_NAME, record)

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        locks = self.base / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with (locks / f"{key}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- build --------------------------------------------------------------------------------

    @contextmanager
    def building(self) -> Iterator[Path]:
        """A fresh work directory (holding root/), removed if the block fails."""
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o700)
        self._remove_stale()
        work = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=self.base))
        try:
            yield work
        except BaseException:
            remove_tree(work)
            raise
        if work.exists():  # not published: a failure after the block's work
            remove_tree(work)

    def publish(self, work: Path, key: str, layer: str, record: LayerRecord) -> None:
        """Write the index and the marker (last) into `work`, then rename it to `key`.
        Call with `locked(key)` held; a damaged entry already at `key` is replaced."""
        data = layer_index.dumps(record)
        (work / INDEX_NAME).write_bytes(data)
        marker = {
            "format": FORMAT,
            "key": key,
            "layer": layer,
            "index_sha256": hashlib.sha256(data).hexdigest(),
            "privileged": self.privileged,
            "bytes": disk_bytes(work),
        }
        (work / MARKER_NAME).write_text(json.dumps(marker))
        final = self.base / key
        if final.exists():
            self.discard(key)
        os.rename(work, final)

    def discard(self, key: str) -> None:
        """Move `key` aside and remove it (call with `locked(key)` held, or from prune)."""
        final = self.base / key
        trash = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=self.base))
        try:
            os.rename(final, trash / "old")
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
        remove_tree(trash)

    def remove_work_of(self, pid: int) -> list[Path]:
        """Remove the temp dirs (layers being built, merged lower groups) of analyser `pid`,
        which the caller knows to be dead (its watchdog); returns them."""
        removed = sorted(self.base.glob(f"{TEMP_PREFIX}{pid}-*"))
        for work in removed:
            remove_tree(work)
        return removed

    def remove_work_of_dead(self) -> None:
        """Remove the temp dirs of every analyser that is gone (a process that runs after
        dead ones: a fleet worker's next scan process)."""
        with contextlib.suppress(FileNotFoundError):
            self._remove_stale()

    def _remove_stale(self) -> None:
        for child in self.base.iterdir():
            if not child.name.startswith(TEMP_PREFIX):
                continue
            pid = child.name[len(TEMP_PREFIX) :].partition("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                remove_tree(child)

    # -- counters -----------------------------------------------------------------------------

    def count(self, hits: int = 0, misses: int = 0) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        with (self.base / ".stats.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            counts = self.counts()
            counts["hits"] += hits
            counts["misses"] += misses
            partial = self.base / f".stats.{os.getpid()}.partial"
            partial.write_text(json.dumps(counts))
            os.replace(partial, self.base / STATS_NAME)

    def counts(self) -> dict[str, int]:
        try:
            data = json.loads((self.base / STATS_NAME).read_text())
            return {"hits": int(data["hits"]), "misses": int(data["misses"])}
        except (OSError, ValueError, KeyError, TypeError):
            return {"hits": 0, "misses": 0}

    def entry_keys(self) -> list[str]:
        """The published (or damaged) layer entries: not temp dirs, locks or the empty root."""
        try:
            names = [p.name for p in self.base.iterdir()]
        except FileNotFoundError:
            return []
        return sorted(n for n in names if not n.startswith(".") and n != EMPTY_ROOT)


def read_marker(directory: Path) -> dict[str, object] | None:
    try:
        data = json.loads((directory / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def disk_bytes(top: Path) -> int:
    """Bytes `top` takes on disk (allocated blocks), without following symlinks."""
    total = 0
    stack = [str(top)]
    while stack:
        try:
            with os.scandir(stack.pop()) as listing:
                for item in listing:
                    st = item.stat(follow_symlinks=False)
                    total += st.st_blocks * 512
                    if item.is_dir(follow_symlinks=False):
                        stack.append(item.path)
        except OSError:
            continue  # too deep for a path (hostile nesting): an estimate is enough here
    return total


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
