"""unpack(image) → Rootfs: each layer unpacked once into its own cached dir, and one index.

A layer already in the cache (same chain of layers below it) is not read again: its saved
record joins the image's merged index, and its dir joins the image's overlay lower dirs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from detonate.errors import DigestMismatch, MalformedLayer, UnpackError
from detonate.model.filesystem import FileEntry, Rootfs
from detonate.model.image import AcquiredImage, LayerRef
from detonate.model.options import UnpackLimits
from detonate.progress import Progress
from detonate.unpack.apply_layer import UnpackState, apply_layer
from detonate.unpack.disk import host_id
from detonate.unpack.layer_index import LayerRecord
from detonate.unpack.layer_merge import merge_records, tree_from_entries
from detonate.unpack.layer_store import (
    EMPTY_ROOT,
    ROOT_NAME,
    CachedLayer,
    LayerStore,
    layer_keys,
)
from detonate.unpack.layer_stream import BlobReader, LayerStream, compression_for
from detonate.unpack.layer_writer import LayerWriter
from detonate.unpack.limits import limit_exceeded
from detonate.unpack.merged_tree import MergedTree, Node

TASK = "unpack"


@dataclass
class _Totals:
    """What the layers so far add up to, for the limits on the image as a whole."""

    entries: int = 0
    bytes: int = 0


def unpack(
    image: AcquiredImage, cache_dir: Path, limits: UnpackLimits, progress: Progress
) -> Rootfs:
    """Unpack each of `image`'s layers into cache_dir/layers/<chain id>/ (once) and index the
    merged filesystem.

    Raises LimitExceeded, MalformedLayer, DigestMismatch or UnsupportedMediaType; hostile entries
    that can be skipped are refused and listed in `Rootfs.issues` instead.
    """
    if len(image.layers) > limits.max_layers:
        raise limit_exceeded(
            "max_layers", f"the image has {len(image.layers)} layers, over {limits.max_layers}"
        )
    for layer in image.layers:
        compression_for(layer.media_type)  # refuse unknown types before any work
    store = LayerStore(cache_dir)
    if not image.layers:
        return Rootfs(root=_empty_root(store), entries=())
    keys = layer_keys(image)
    progress.start(TASK, total=sum(layer.size for layer in image.layers), unit="B")
    layers: list[CachedLayer] = []
    totals = _Totals()
    below: MergedTree | None = None  # the tree after the layer just built, for the next one
    hits = misses = 0
    try:
        for index, layer in enumerate(image.layers):
            cached = store.load(keys[index], index, layer.digest)
            if cached is None:
                with store.locked(keys[index]):  # a concurrent scan may be building it
                    cached = store.load(keys[index], index, layer.digest)
                    if cached is None:
                        if below is None:
                            below = tree_from_entries(merge_records([c.record for c in layers]))
                        build = _Build(store, image, limits, progress, below, layers, totals)
                        cached = build.layer(keys[index], index, layer)
                        misses += 1
                        _check_totals(cached.record, totals, limits, index)
                        layers.append(cached)
                        continue
            hits += 1
            below = None
            progress.advance(TASK, layer.size)
            _check_totals(cached.record, totals, limits, index)
            layers.append(cached)
    finally:
        if hits or misses:
            store.count(hits=hits, misses=misses)
        progress.finish(TASK)
    records = [c.record for c in layers]
    return Rootfs(
        root=layers[-1].root,
        entries=tuple(merge_records(records)),
        issues=tuple(issue for record in records for issue in record.issues),
        layers=len(image.layers),
        bytes_unpacked=totals.bytes,
        layer_dirs=tuple(c.root for c in layers),
    )


def _empty_root(store: LayerStore) -> Path:
    """The root of an image without layers: one empty directory, shared."""
    root = store.base / EMPTY_ROOT
    if not root.is_dir():
        store.base.mkdir(parents=True, exist_ok=True)
        os.chmod(store.base, 0o700)
        root.mkdir(mode=0o755, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(root, host_id(0), host_id(0))
    return root


def _check_totals(record: LayerRecord, totals: _Totals, limits: UnpackLimits, index: int) -> None:
    """Every limit, for a layer (cached under other limits, maybe) and for the image so far."""
    if record.longest_name > limits.max_path_bytes:
        raise limit_exceeded(
            "max_path_bytes",
            f"layer {index} has a path or link target longer than {limits.max_path_bytes} bytes",
        )
    if record.largest_file > limits.max_file_bytes:
        raise limit_exceeded(
            "max_file_bytes",
            f"layer {index} has a {record.largest_file}-byte file, over the limit of "
            f"{limits.max_file_bytes} for one file",
        )
    totals.entries += record.entries_seen
    totals.bytes += record.bytes_written
    if totals.entries > limits.max_files:
        raise limit_exceeded("max_files", f"the layers hold more than {limits.max_files} entries")
    if totals.bytes > limits.max_total_bytes:
        raise limit_exceeded(
            "max_total_bytes", f"the layers unpack to more than {limits.max_total_bytes} bytes"
        )


@dataclass
class _Build:
    """Unpacks one layer over the merged tree of the layers below it, into the store."""

    store: LayerStore
    image: AcquiredImage
    limits: UnpackLimits
    progress: Progress
    below: MergedTree  # updated in place: after `layer`, it is the tree with this layer
    lowers: list[CachedLayer]
    totals: _Totals

    def layer(self, key: str, index: int, layer: LayerRef) -> CachedLayer:
        tree = self.below
        with self.store.building() as work:
            root = work / ROOT_NAME
            root.mkdir(mode=0o755)
            if os.geteuid() == 0:
                os.chown(root, host_id(0), host_id(0))  # the container's root owns "/"
            os.chmod(root, 0o755)
            root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)

            def dir_meta(names: list[str]) -> FileEntry | None:
                node = tree.node_at(names)
                return node.entry if node is not None else None

            writer = LayerWriter(root_fd, [c.root for c in self.lowers], dir_meta)
            state = UnpackState(
                tree,
                writer,
                self.limits,
                entries_seen=self.totals.entries,
                bytes_written=self.totals.bytes,
            )
            try:
                _unpack_layer(state, index, layer, self.image, self.limits, self.progress)
                carried = _carry_touched_dirs(tree, writer, index)
            finally:
                writer.close()
                os.close(root_fd)
            record = LayerRecord(
                entries=tuple(e for e in tree.entries() if e.layer_index == index),
                whiteouts=tuple(sorted(state.whiteouts)),
                opaques=tuple(sorted(state.opaques)),
                carried=tuple(carried),
                issues=tuple(state.issues),
                entries_seen=state.entries_seen - self.totals.entries,
                bytes_written=state.bytes_written - self.totals.bytes,
                largest_file=state.largest_file,
                longest_name=state.longest_name,
            )
            diff_ids = self.image.config.diff_ids
            source = diff_ids[index] if len(diff_ids) == len(self.image.layers) else layer.digest
            self.store.publish(work, key, source, record)
        return CachedLayer(key, self.store.root_of(key), record)


def _carry_touched_dirs(tree: MergedTree, writer: LayerWriter, index: int) -> list[str]:
    """Put in the layer's dir every dir of the layers below that this layer touched (wrote
    into, or resolved a name through), so an opaque dir above shows them as the tree does."""
    carried: list[str] = []
    stack: list[tuple[Node, list[str]]] = [(tree.root, [])]
    while stack:
        node, names = stack.pop()
        for name, child in (node.children or {}).items():
            if child.touched != index or not child.is_dir or child.entry is None:
                continue
            if child.entry.layer_index != index:
                writer.dir_fd([*names, name])  # creates it with the lower dir's metadata
                carried.append(child.entry.path)
            stack.append((child, [*names, name]))
    return carried


def _unpack_layer(
    state: UnpackState,
    index: int,
    layer: LayerRef,
    image: AcquiredImage,
    limits: UnpackLimits,
    progress: Progress,
) -> None:
    try:
        raw = BlobReader(image.blob_path(layer.digest), layer.digest)
    except FileNotFoundError:
        raise UnpackError(
            f"layer {index} ({layer.digest}) is missing from the image cache",
            "pull the image again (remove it from --cache-dir first)",
        ) from None
    try:
        stream = LayerStream(raw, limits, progress, TASK)
        try:
            apply_layer(state, index, layer.digest, stream)
            stream.drain()
        except MalformedLayer:
            # A corrupted blob is a digest mismatch first, a malformed layer second.
            stream.close()
            raw.drain()
            if not raw.matches():
                raise _blob_mismatch(index, layer) from None
            raise
        finally:
            stream.close()
        raw.drain()  # bytes after the compressed stream still count for the digest
        stream.report_progress()
        if not raw.matches():
            raise _blob_mismatch(index, layer)
        diff_ids = image.config.diff_ids
        if len(diff_ids) == len(image.layers) and stream.diff_id() != diff_ids[index]:
            raise DigestMismatch(
                f"layer {index} unpacks to {stream.diff_id()}, but the image config "
                f"says {diff_ids[index]}",
                "the image config and its layers disagree; re-pull it or check its source",
            )
    finally:
        raw.close()


def _blob_mismatch(index: int, layer: LayerRef) -> DigestMismatch:
    return DigestMismatch(
        f"layer {index} does not match its digest {layer.digest}",
        "the cached blob is damaged or was tampered with; remove it from --cache-dir, pull again",
    )
