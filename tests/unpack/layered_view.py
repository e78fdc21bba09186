"""What every unpack test checks besides its own assertions: the layered unpack equals the
merged unpack detonate did before layer dirs (the same apply_layer, all layers into one dir),
in its index and, mounted as an overlay of the layer dirs, on disk."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage
from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.unpack.apply_layer import UnpackState
from detonate.unpack.disk import RootWriter, host_id
from detonate.unpack.merged_tree import MergedTree
from detonate.unpack.overlay_lowers import lowerdir_option
from detonate.unpack.unpacker import _unpack_layer


def merged_unpack(image: AcquiredImage, root: Path, limits: UnpackLimits) -> Rootfs:
    """All layers applied into one directory, as unpack did before layer dirs."""
    root.mkdir(mode=0o755)
    if os.geteuid() == 0:
        os.chown(root, host_id(0), host_id(0))
    os.chmod(root, 0o755)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    writer = RootWriter(root_fd)
    state = UnpackState(MergedTree(), writer, limits)
    try:
        for index, layer in enumerate(image.layers):
            _unpack_layer(state, index, layer, image, limits, NullProgress())
    finally:
        writer.close()
        os.close(root_fd)
    return Rootfs(root, tuple(state.tree.entries()), tuple(state.issues), len(image.layers))


def mount_view(rootfs: Rootfs, target: Path) -> Path:
    """The image's tree: a read-only overlay of its layer dirs (one layer: its dir)."""
    if len(rootfs.lower_dirs) == 1:
        return rootfs.lower_dirs[0]
    if os.geteuid() != 0:
        pytest.skip("an overlay of the layer dirs needs root to mount")
    target.mkdir(parents=True)
    options = f"ro,lowerdir={lowerdir_option(rootfs.lower_dirs)}"
    subprocess.run(["mount", "-t", "overlay", "-o", options, "view", str(target)], check=True)
    return target


def unmount(target: Path) -> None:
    subprocess.run(["umount", str(target)], check=True)


def tree_listing(root: Path) -> dict[str, tuple[object, ...]]:
    """Path → (type, mode, uid, gid, content sha256 or link target) of everything under root."""
    listing: dict[str, tuple[object, ...]] = {}
    stack = [""]
    while stack:
        relative = stack.pop()
        st = os.lstat(root / relative) if relative else os.lstat(root)
        detail: object = ""
        if stat.S_ISREG(st.st_mode):
            detail = hashlib.sha256((root / relative).read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            detail = os.readlink(root / relative)
        elif stat.S_ISDIR(st.st_mode):
            stack.extend(f"{relative}/{n}" if relative else n for n in os.listdir(root / relative))
        listing["/" + relative] = (
            stat.S_IFMT(st.st_mode),
            stat.S_IMODE(st.st_mode),
            st.st_uid,
            st.st_gid,
            detail,
        )
    return listing
