"""unpack(image) → Rootfs: the layers, in order, merged into one cached directory and indexed."""

from __future__ import annotations

import os
from pathlib import Path

from detonate.errors import DigestMismatch, MalformedLayer, UnpackError
from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage, LayerRef
from detonate.model.options import UnpackLimits
from detonate.progress import Progress
from detonate.unpack.apply_layer import UnpackState, apply_layer
from detonate.unpack.disk import RootWriter, host_id
from detonate.unpack.index_file import save_index
from detonate.unpack.layer_stream import BlobReader, LayerStream, compression_for
from detonate.unpack.limits import limit_exceeded
from detonate.unpack.merged_tree import MergedTree
from detonate.unpack.rootfs_cache import INDEX_NAME, ROOT_NAME, RootfsCache, cache_key

TASK = "unpack"


def unpack(
    image: AcquiredImage, cache_dir: Path, limits: UnpackLimits, progress: Progress
) -> Rootfs:
    """Merge `image`'s layers into cache_dir/rootfs/<chain id>/root and index every file.

    Reuses the cached rootfs when this chain of layers was unpacked before. Raises
    LimitExceeded, MalformedLayer, DigestMismatch or UnsupportedMediaType; hostile entries that
    can be skipped are refused and listed in `Rootfs.issues` instead.
    """
    if len(image.layers) > limits.max_layers:
        raise limit_exceeded(
            "max_layers", f"the image has {len(image.layers)} layers, over {limits.max_layers}"
        )
    for layer in image.layers:
        compression_for(layer.media_type)  # refuse unknown types before any work
    cache = RootfsCache(cache_dir)
    key = cache_key(image)
    total = sum(layer.size for layer in image.layers)
    progress.start(TASK, total=total, unit="B")
    try:
        cached = cache.load(key)
        if cached is None:
            with cache.building(key) as work:
                built = _unpack_into(work / ROOT_NAME, image, limits, progress)
                save_index(work / INDEX_NAME, built)
            cached = cache.load(key)
            if cached is None:
                raise UnpackError(f"the unpacked rootfs {key} vanished from the cache", "retry")
        else:
            progress.advance(TASK, total)
        return cached
    finally:
        progress.finish(TASK)


def _unpack_into(
    root: Path, image: AcquiredImage, limits: UnpackLimits, progress: Progress
) -> Rootfs:
    root.mkdir(mode=0o755)
    if os.geteuid() == 0:
        os.chown(root, host_id(0), host_id(0))  # the container's root owns "/"
    os.chmod(root, 0o755)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    writer = RootWriter(root_fd)
    state = UnpackState(MergedTree(), writer, limits)
    try:
        for index, layer in enumerate(image.layers):
            _unpack_layer(state, index, layer, image, limits, progress)
    finally:
        writer.close()
        os.close(root_fd)
    return Rootfs(
        root=root,
        entries=tuple(state.tree.entries()),
        issues=tuple(state.issues),
        layers=len(image.layers),
        bytes_unpacked=state.bytes_written,
    )


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
