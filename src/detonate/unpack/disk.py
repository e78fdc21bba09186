"""Writes into the rootfs under construction, always relative to a directory fd beneath the root.

Names given here are single components; parents are real directories the merged tree resolved,
and `open_dir_beneath` makes the kernel check that. Files are owned on disk by
CONTAINER_ID_BASE + the image's ids (see model/options.py) and keep their mode bits.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable

from detonate.errors import UnpackError
from detonate.model.options import CONTAINER_ID_BASE, CONTAINER_ID_COUNT
from detonate.unpack.beneath import open_dir_beneath

NOBODY = 65534
_FD_CACHE_SIZE = 64
# Errors that say the host cannot take the rootfs: fatal. Any other OSError refuses one entry.
FATAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EMFILE})

CopyData = Callable[[int, "hashlib._Hash"], None]  # (fd, hasher) → writes the entry's data


def host_id(container_id: int) -> int:
    if 0 <= container_id < CONTAINER_ID_COUNT:
        return CONTAINER_ID_BASE + container_id
    return CONTAINER_ID_BASE + NOBODY


def check_fatal(error: OSError) -> None:
    if error.errno in FATAL_ERRNOS:
        raise UnpackError(
            f"cannot write the rootfs: {error.strerror}",
            "free disk space under the cache directory, or point --cache-dir elsewhere",
        ) from error


class RootWriter:
    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.as_root = os.geteuid() == 0
        self._fds: dict[str, int] = {}

    # -- directory fds ------------------------------------------------------------------------

    def dir_fd(self, names: list[str]) -> int:
        """An fd of the real directory at `names`, cached (tar entries come grouped by dir)."""
        if not names:
            return self.root_fd
        key = "/".join(names)
        fd = self._fds.get(key)
        if fd is None:
            if len(self._fds) >= _FD_CACHE_SIZE:
                self.forget_dirs()
            fd = open_dir_beneath(self.root_fd, key)
            self._fds[key] = fd
        return fd

    def forget_dirs(self) -> None:
        """Drop cached fds; needed whenever a directory is removed or replaced."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def close(self) -> None:
        self.forget_dirs()

    # -- metadata -----------------------------------------------------------------------------

    def _disk_mode(self, mode: int, is_dir: bool) -> int:
        mode &= 0o7777
        if not self.as_root:  # without CAP_DAC_OVERRIDE we must still read (and fill) it
            mode |= 0o700 if is_dir else 0o600
        return mode

    def _own_fd(self, fd: int, uid: int, gid: int) -> None:
        if self.as_root:
            os.fchown(fd, host_id(uid), host_id(gid))

    # -- entries ------------------------------------------------------------------------------

    def mkdir(self, parent: list[str], name: str, mode: int, uid: int, gid: int) -> None:
        pfd = self.dir_fd(parent)
        os.mkdir(name, 0o700, dir_fd=pfd)
        self.set_dir_meta(parent, name, mode, uid, gid)

    def set_dir_meta(self, parent: list[str], name: str, mode: int, uid: int, gid: int) -> None:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.dir_fd(parent))
        try:
            self._own_fd(fd, uid, gid)  # before chmod: chown may clear setgid
            os.fchmod(fd, self._disk_mode(mode, True))
        finally:
            os.close(fd)

    def write_file(
        self,
        parent: list[str],
        name: str,
        copy_data: CopyData,
        mode: int,
        uid: int,
        gid: int,
        mtime: int,
    ) -> str:
        """Create a new regular file (never through an existing one); returns its sha256."""
        pfd = self.dir_fd(parent)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=pfd)
        try:
            hasher = hashlib.sha256()
            copy_data(fd, hasher)
            self._own_fd(fd, uid, gid)  # before chmod: chown clears setuid/setgid
            os.fchmod(fd, self._disk_mode(mode, False))
            os.utime(fd, (mtime, mtime))
        except BaseException:
            os.close(fd)
            os.unlink(name, dir_fd=pfd)
            raise
        os.close(fd)
        return hasher.hexdigest()

    def symlink(
        self, parent: list[str], name: str, target: str, uid: int, gid: int, mtime: int
    ) -> None:
        pfd = self.dir_fd(parent)
        os.symlink(target, name, dir_fd=pfd)
        if self.as_root:
            os.chown(name, host_id(uid), host_id(gid), dir_fd=pfd, follow_symlinks=False)
        os.utime(name, (mtime, mtime), dir_fd=pfd, follow_symlinks=False)

    def hardlink(
        self,
        src_parent: list[str],
        src_name: str,
        parent: list[str],
        name: str,
        src_layer: int = -1,  # the layer that wrote the source (a layered writer copies it)
    ) -> None:
        src_fd = self.dir_fd(src_parent)
        os.link(
            src_name, name, src_dir_fd=src_fd, dst_dir_fd=self.dir_fd(parent), follow_symlinks=False
        )

    def mkfifo(self, parent: list[str], name: str, mode: int, uid: int, gid: int) -> None:
        pfd = self.dir_fd(parent)
        os.mkfifo(name, 0o600, dir_fd=pfd)
        if self.as_root:
            os.chown(name, host_id(uid), host_id(gid), dir_fd=pfd, follow_symlinks=False)
        # A fifo we just created (mkfifo never follows); chmod through the fd-less path is safe.
        os.chmod(name, self._disk_mode(mode, False), dir_fd=pfd)

    def unlink(self, parent: list[str], name: str) -> None:
        os.unlink(name, dir_fd=self.dir_fd(parent))

    def rmdir(self, parent: list[str], name: str) -> None:
        self.forget_dirs()
        os.rmdir(name, dir_fd=self.dir_fd(parent))

    # -- overlay whiteouts (only a layered writer keeps them on disk) ---------------------------

    def hide(self, parent: list[str], name: str) -> None:
        """`name` of the layers below is deleted: the merged writer removed it already."""

    def make_opaque(self, names: list[str]) -> None:
        """The layers below have nothing under `names`: the merged writer removed it already."""
