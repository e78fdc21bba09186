"""Writes one layer into its own directory, as an overlay layer over the layers below it.

The merged tree still holds the whole image (the layers below plus this one so far), so names
resolve exactly as in a merged unpack; only what this layer adds lands in its directory:

    a directory below that this layer writes into  → created here with the lower one's metadata
    a new directory (replaces or hides lower ones) → trusted.overlay.opaque=y
    `.wh.NAME` of something below                  → NAME as a character device 0/0
    a hardlink to a file of a layer below          → a copy (overlay layers cannot share inodes)

These are the on-disk conventions of overlayfs (and of containerd's overlay snapshotter), so an
overlay mount with `lowerdir=top:…:bottom` shows the merged tree. Without root the whiteouts
and opaque marks cannot be written (mknod and trusted.* xattrs need CAP_SYS_ADMIN/CAP_MKNOD):
they are kept in the layer's index only, enough for static analysis but not for a mount.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from detonate.model.filesystem import FileEntry
from detonate.unpack.beneath import open_dir_beneath
from detonate.unpack.disk import CopyData, RootWriter
from detonate.unpack.tree_removal import remove_tree_at

OPAQUE_XATTR = "trusted.overlay.opaque"
_CHUNK = 1 << 20

DirMeta = Callable[[list[str]], FileEntry | None]  # the merged tree's entry of a directory


class LayerWriter(RootWriter):
    def __init__(self, root_fd: int, lower_dirs: Sequence[Path], dir_meta: DirMeta) -> None:
        super().__init__(root_fd)
        self.lower_dirs = lower_dirs  # bottom first, as layer indexes count
        self.dir_meta = dir_meta
        self.bytes_copied = 0
        # Whiteouts this writer made: the only thing a new entry can find in its way on disk
        # (what the tree removes is cleared by unlink/rmdir), so only these need a look.
        self._whiteouts: set[str] = set()

    # -- directories of the layers below ------------------------------------------------------

    def dir_fd(self, names: list[str]) -> int:
        try:
            return super().dir_fd(names)
        except FileNotFoundError:
            self._make_lower_dirs(names)
            return super().dir_fd(names)

    def _make_lower_dirs(self, names: list[str]) -> None:
        """Create the dirs of `names` that only the layers below have, with their metadata
        (an overlay shows the top layer's owner and mode of a directory)."""
        for depth in range(len(names)):
            parent, name = names[:depth], names[depth]
            pfd = super().dir_fd(parent)
            try:
                st = os.lstat(name, dir_fd=pfd)
            except FileNotFoundError:
                entry = self.dir_meta(names[: depth + 1])
                mode, uid, gid = (entry.mode, entry.uid, entry.gid) if entry else (0o755, 0, 0)
                os.mkdir(name, 0o700, dir_fd=pfd)
                super().set_dir_meta(parent, name, mode, uid, gid)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, "not a directory in the layer", "/".join(names))

    def _clear_whiteout(self, parent: list[str], name: str) -> None:
        key = "/".join([*parent, name])
        if key in self._whiteouts:
            self._whiteouts.discard(key)
            self._clear(parent, name)

    def _clear(self, parent: list[str], name: str) -> None:
        """Remove whatever this layer's dir has at `name` (a whiteout, an older entry)."""
        try:
            pfd = super().dir_fd(parent)  # never creates: nothing here if the parent is not
            st = os.lstat(name, dir_fd=pfd)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            self.forget_dirs()  # cached fds below `name` are about to go stale
            remove_tree_at(super().dir_fd(parent), name)
        else:
            os.unlink(name, dir_fd=pfd)

    # -- entries ------------------------------------------------------------------------------

    def mkdir(self, parent: list[str], name: str, mode: int, uid: int, gid: int) -> None:
        self._clear_whiteout(parent, name)
        super().mkdir(parent, name, mode, uid, gid)
        self._set_opaque([*parent, name])

    def set_dir_meta(self, parent: list[str], name: str, mode: int, uid: int, gid: int) -> None:
        pfd = self.dir_fd(parent)
        try:
            os.lstat(name, dir_fd=pfd)
        except FileNotFoundError:
            os.mkdir(name, 0o700, dir_fd=pfd)  # a dir of a layer below, re-declared here
        super().set_dir_meta(parent, name, mode, uid, gid)

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
        self._clear_whiteout(parent, name)
        return super().write_file(parent, name, copy_data, mode, uid, gid, mtime)

    def symlink(
        self, parent: list[str], name: str, target: str, uid: int, gid: int, mtime: int
    ) -> None:
        self._clear_whiteout(parent, name)
        super().symlink(parent, name, target, uid, gid, mtime)

    def mkfifo(self, parent: list[str], name: str, mode: int, uid: int, gid: int) -> None:
        self._clear_whiteout(parent, name)
        super().mkfifo(parent, name, mode, uid, gid)

    def hardlink(
        self,
        src_parent: list[str],
        src_name: str,
        parent: list[str],
        name: str,
        src_layer: int = -1,
    ) -> None:
        self._clear_whiteout(parent, name)
        if src_layer < 0 or src_layer >= len(self.lower_dirs):
            super().hardlink(src_parent, src_name, parent, name)  # written by this layer
            return
        self._copy_from_lower(src_layer, src_parent, src_name, parent, name)

    def _copy_from_lower(
        self, layer: int, src_parent: list[str], src_name: str, parent: list[str], name: str
    ) -> None:
        lower_fd = os.open(self.lower_dirs[layer], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            src_dir = open_dir_beneath(lower_fd, "/".join(src_parent))
        finally:
            os.close(lower_fd)
        try:
            src = os.open(src_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
        finally:
            os.close(src_dir)
        try:
            st = os.fstat(src)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "hardlink source is not a regular file", src_name)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            dst = os.open(name, flags, 0o600, dir_fd=self.dir_fd(parent))
            try:
                while chunk := os.read(src, _CHUNK):
                    os.write(dst, chunk)
                if self.as_root:
                    os.fchown(dst, st.st_uid, st.st_gid)  # already host ids
                os.fchmod(dst, stat.S_IMODE(st.st_mode))
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst)
            self.bytes_copied += st.st_size
        finally:
            os.close(src)

    # -- removal: what the tree removes may be only in a layer below ---------------------------

    def unlink(self, parent: list[str], name: str) -> None:
        self._clear(parent, name)

    def rmdir(self, parent: list[str], name: str) -> None:
        self._clear(parent, name)

    # -- overlay whiteouts --------------------------------------------------------------------

    def hide(self, parent: list[str], name: str) -> None:
        if not self.as_root:
            return  # kept in the index only (see the module docstring)
        self._clear(parent, name)
        os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=self.dir_fd(parent))
        self._whiteouts.add("/".join([*parent, name]))

    def make_opaque(self, names: list[str]) -> None:
        self.dir_fd(names)  # creates it here if only a layer below has it
        self._set_opaque(names)

    def _set_opaque(self, names: list[str]) -> None:
        if not self.as_root:
            return
        fd = os.open(
            names[-1], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.dir_fd(names[:-1])
        )
        try:
            os.setxattr(fd, OPAQUE_XATTR, b"y")
        finally:
            os.close(fd)
