"""Layer tar streams through the unpacker: `unpack()` of an image of one to three fuzzed layer
blobs (tar, gzip or zstd, as the magic says), into a scratch cache, with small limits on.

Contract: a Rootfs, or UnpackError (LimitExceeded, MalformedLayer, …) / AcquireError
(UnsupportedMediaType, DigestMismatch); nothing written outside the scratch cache dir.
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fuzz_harness import TESTS, check, split

from detonate.errors import AcquireError, UnpackError
from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage, ImageConfig, LayerRef, Platform
from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.unpack import unpack
from detonate.unpack.tree_removal import remove_tree

TIME_BOUND = 10.0
KiB = 1024
LIMITS = UnpackLimits(
    max_total_bytes=4 * 1024 * KiB,
    max_file_bytes=1024 * KiB,
    max_files=2000,
    max_ratio=50,
    ratio_floor_bytes=256 * KiB,
    max_layers=3,
    max_path_bytes=4096,
)
MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"  # the real compression is sniffed
_scratch: Path | None = None


def _scratch_dir() -> Path:
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="detonate-fuzz-unpack-"))
        atexit.register(shutil.rmtree, _scratch, True)
        (_scratch / "outside").mkdir()
        (_scratch / "outside" / "sentinel").write_bytes(b"host file\n")
    return _scratch


def seeds() -> Iterator[bytes]:
    sys.path.insert(0, str(TESTS / "unpack"))
    from unpack_images import Layer

    yield Layer().dir("etc").file("etc/hostname", b"box\n").symlink("bin", "usr/bin").tar()
    yield gzip.compress(Layer().file("/etc/abs", b"y").file("a/../../b", b"x").tar(), mtime=0)
    yield (
        Layer().symlink("up", "../../../..").file("up/escaped", b"x").hardlink("h", "up").tar()
        + b"\x00\xff\x00"
        + Layer().whiteout("up").opaque("etc").device("dev/null").fifo("p").tar()
    )
    yield Layer().dir("d", 0o555).file("d/f", b"z").whiteout("d/f").huge_file("big", 1 << 16).tar()


def fuzz(data: bytes) -> None:
    scratch = _scratch_dir()
    blobs, cache = scratch / "blobs", scratch / "cache"
    layers = []
    for blob in split(data, 3):
        if not blob and layers:
            continue
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        path = blobs / "sha256" / digest.partition(":")[2]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
        layers.append(LayerRef(digest, MEDIA_TYPE, len(blob)))
    image = AcquiredImage(
        reference="oci:fuzz:latest",
        digest="sha256:" + "0" * 64,
        platform=Platform(),
        config_digest="sha256:" + "1" * 64,
        config=ImageConfig(),
        layers=tuple(layers),
        blobs_dir=blobs,
    )
    try:
        rootfs = unpack(image, cache, LIMITS, NullProgress())
        check(isinstance(rootfs, Rootfs), "unpack() did not return a Rootfs")
    except (UnpackError, AcquireError):
        pass
    finally:
        if cache.exists():
            remove_tree(cache)
        shutil.rmtree(blobs, ignore_errors=True)
    outside = scratch / "outside"
    check(os.listdir(outside) == ["sentinel"], "a layer wrote outside the cache dir")
    check((outside / "sentinel").read_bytes() == b"host file\n", "a layer changed a host file")
