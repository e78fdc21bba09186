"""An image's layer dirs as overlayfs lower dirs, within what one mount can take.

The kernel copies mount options into one page (4096 bytes here), so `lowerdir=a:b:…` of
absolute cache paths (~110 bytes each) fits about 30 layers, and overlayfs stacks at most 500
lower layers. Past either limit the bottom layers are merged, a group at a time, into temporary
dirs next to the cache (hard links, so no file is copied) that keep the groups' whiteouts and
opaque dirs, so the mount shows the same tree. They are removed when the run ends; those of a
killed run are removed by the next unpack (layer_store's stale temp dirs).
"""

from __future__ import annotations

import errno
import math
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from detonate.model.filesystem import Rootfs
from detonate.unpack.layer_store import TEMP_PREFIX
from detonate.unpack.layer_writer import OPAQUE_XATTR
from detonate.unpack.tree_removal import remove_tree

MOUNT_OPTIONS_BYTES = 4096  # one page: what mount(2) copies of the options
OTHER_OPTIONS_BYTES = 1024  # upperdir=, workdir= and flags of the sandbox's mount
MAX_LOWER_LAYERS = 500  # overlayfs's OVL_MAX_STACK


def lowerdir_option(lowers: Sequence[Path]) -> str:
    """ "top:…:bottom", with ':' in a path escaped as overlayfs reads it."""
    return ":".join(str(p).replace("\\", "\\\\").replace(":", "\\:") for p in lowers)


def fits(lowers: Sequence[Path], budget: int) -> bool:
    return len(lowers) <= MAX_LOWER_LAYERS and len(lowerdir_option(lowers)) <= budget


@contextmanager
def lower_stack(
    rootfs: Rootfs, budget: int = MOUNT_OPTIONS_BYTES - OTHER_OPTIONS_BYTES
) -> Iterator[list[Path]]:
    """The lower dirs of `rootfs`, top first, merged into groups when they do not fit."""
    lowers = list(rootfs.lower_dirs)
    if fits(lowers, budget):
        yield lowers
        return
    bottom_first = list(rootfs.layer_dirs)
    cache = bottom_first[0].parent.parent  # the layer store: same file system, for links
    work = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-groups-", dir=cache))
    try:
        yield _grouped(bottom_first, work, budget)
    finally:
        remove_tree(work)


def _grouped(bottom_first: list[Path], work: Path, budget: int) -> list[Path]:
    longest = max(len(lowerdir_option([p])) for p in bottom_first) + 1
    room = min(MAX_LOWER_LAYERS, max(2, budget // longest))
    # Keep the top layers as they are; merge the rest bottom-up into groups of equal size.
    kept = room // 2
    rest = bottom_first[: len(bottom_first) - kept]
    groups = max(1, room - kept)
    size = math.ceil(len(rest) / groups)
    merged: list[Path] = []
    for number, start in enumerate(range(0, len(rest), size)):
        target = work / str(number)
        merge_layer_dirs(rest[start : start + size], target)
        merged.append(target)
    stack = [*merged, *bottom_first[len(rest) :]]
    if not fits(stack[::-1], budget):
        raise OSError(errno.E2BIG, f"{len(bottom_first)} layers do not fit one overlay mount")
    return stack[::-1]


def merge_layer_dirs(bottom_first: Sequence[Path], target: Path) -> None:
    """Overlay `bottom_first` into one dir, as one lower layer equal to the stack of them."""
    root_st = os.lstat(bottom_first[0])
    target.mkdir(mode=0o700)
    _own(target, root_st)
    for layer in bottom_first:
        dirs = [""]
        while dirs:
            relative = dirs.pop()
            source_dir = layer / relative
            with os.scandir(source_dir) as listing:
                items = [(item.name, item.stat(follow_symlinks=False)) for item in listing]
            for name, st in items:
                rel = f"{relative}/{name}" if relative else name
                if _merge_one(layer / rel, target / rel, st):
                    dirs.append(rel)


def _merge_one(source: Path, dest: Path, st: os.stat_result) -> bool:
    """Apply one item of an upper layer onto the merged dir; True for a dir to descend into."""
    try:
        old: os.stat_result | None = os.lstat(dest)
    except FileNotFoundError:
        old = None
    if stat.S_ISDIR(st.st_mode):
        opaque = _is_opaque(source)
        if old is not None and stat.S_ISDIR(old.st_mode) and not opaque:
            _own(dest, st)  # merge: the upper dir's owner and mode win
            return True
        if old is not None:
            _remove(dest, old)
        dest.mkdir(mode=0o700)
        _own(dest, st)
        # A dir over a whiteout or a non-dir hides the layers below it, as in the stack.
        if opaque or old is not None:
            os.setxattr(dest, OPAQUE_XATTR, b"y", follow_symlinks=False)
        return True
    if old is not None:
        _remove(dest, old)
    if stat.S_ISREG(st.st_mode):
        os.link(source, dest, follow_symlinks=False)
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), dest)
        os.chown(dest, st.st_uid, st.st_gid, follow_symlinks=False)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        os.mknod(dest, st.st_mode, st.st_rdev)  # whiteouts (0/0) and fifos
        _own(dest, st)
    return False


def _is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _own(path: Path, st: os.stat_result) -> None:
    os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    os.chmod(path, stat.S_IMODE(st.st_mode))


def _remove(path: Path, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        remove_tree(path)
    else:
        os.unlink(path)
