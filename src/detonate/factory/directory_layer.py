"""A directory tree on disk → a layer blob, for images made from real rootfs trees
(debootstrap), such as the benchmark's large Debian image."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

from detonate.factory.layers import FIXED_EPOCH, gzip_deterministic
from detonate.factory.spec import BlobLayer


def directory_layer(
    root: Path,
    keep: Callable[[str], bool] = lambda name: True,
    created_by: str = "",
) -> BlobLayer:
    """Tar every entry below `root` whose relative name `keep` accepts (parents of kept entries
    are kept too), with owners and modes as on disk and mtimes fixed, then gzip it."""
    buffer = io.BytesIO()

    def select(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        name = info.name.removeprefix("./")
        if name in ("", ".") or info.isdir() or keep(name):
            info.mtime = FIXED_EPOCH
            return info
        return None

    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name, filter=select)
    tar_bytes = buffer.getvalue()
    return BlobLayer(
        blob=gzip_deterministic(tar_bytes), uncompressed=tar_bytes, created_by=created_by
    )
