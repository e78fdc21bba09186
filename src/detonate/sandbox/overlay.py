"""The run's root filesystem: the image's cached layer dirs (read-only lowers) + a fresh upper.

The lowers are the layer dirs unpack made, top first (`lowerdir=top:…:bottom`), with the
layers' deletions as overlay whiteouts and opaque dirs in `trusted.overlay.*` xattrs: this
mount is made by real root in the host's namespaces, where overlayfs reads `trusted.` (the
`userxattr` option is for mounts inside a user namespace and is not used).

The upper and work dirs live on a tmpfs of `disk_bytes`, which is the run's disk limit: a
sample filling its disk gets ENOSPC and the host's disk is untouched. (tmpfs pages are memory:
they count against the run's memory cgroup for pages the sample writes.) After the run the
upper dir is exactly what the sample created, changed or deleted (deletions are whiteouts:
character devices 0/0).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from detonate.errors import SandboxError
from detonate.model.options import CONTAINER_ID_BASE
from detonate.unpack.overlay_lowers import lowerdir_option

MNT_DETACH = 2  # umount2(2): lazily, when busy
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p,) * 3 + (ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


@dataclass(frozen=True)
class OverlayMount:
    scratch: Path  # the tmpfs holding upper/ and work/
    upper: Path
    merged: Path  # the bundle's rootfs
    logs: Path  # a small tmpfs for the container's stdout/stderr (its own limit)

    @property
    def mount_points(self) -> tuple[Path, ...]:
        """Unmount in this order."""
        return (self.merged, self.logs, self.scratch)


def mount_overlay(
    lowers: Sequence[Path], mount_dir: Path, disk_bytes: int, log_bytes: int = 2 * 1024 * 1024
) -> OverlayMount:
    """`mount_dir` must be traversable by the container's mapped root (0711 root-owned dirs):
    runc's init, already inside the user namespace, bind-mounts the bundle rootfs."""
    scratch, merged = mount_dir / "scratch", mount_dir / "bundle" / "rootfs"
    logs = mount_dir / "logs"
    for d in (scratch, merged, logs):
        d.mkdir(parents=True, exist_ok=True)
    for d in (mount_dir.parent, mount_dir, merged.parent, merged):
        os.chmod(d, 0o711)
    # Inodes are bounded too (a sample creating empty files forever): 128 Ki per GiB.
    inodes = max(1024, disk_bytes // 8192)
    _mount("tmpfs", "detonate-scratch", scratch, f"size={disk_bytes},nr_inodes={inodes},mode=0700")
    upper, work = scratch / "upper", scratch / "work"
    upper.mkdir()
    work.mkdir()
    # The merged root directory takes the upper dir's owner and mode: keep the image's own.
    st = lowers[0].stat()
    owned = st.st_uid >= CONTAINER_ID_BASE and st.st_gid >= CONTAINER_ID_BASE
    os.chown(upper, *((st.st_uid, st.st_gid) if owned else (CONTAINER_ID_BASE,) * 2))
    os.chmod(upper, st.st_mode & 0o7777)
    lowerdir = lowerdir_option(lowers)
    options = f"lowerdir={lowerdir},upperdir={upper},workdir={work},index=off,xino=off"
    try:
        _mount("tmpfs", "detonate-logs", logs, f"size={log_bytes},mode=0700")
        _mount("overlay", "detonate-overlay", merged, options)
    except SandboxError:
        unmount(logs)
        unmount(scratch)
        raise
    return OverlayMount(scratch=scratch, upper=upper, merged=merged, logs=logs)


def mount_tmpfs(target: Path, name: str, options: str) -> None:
    _mount("tmpfs", name, target, options)


def _mount(fstype: str, source: str, target: Path, options: str) -> None:
    # The system calls, not mount(8) and umount(8): a run mounts three file systems and
    # unmounts them, and each process cost 10–30 ms of its set-up and teardown on a busy node.
    # Every option here is the file system's own (no flag mount(8) would have parsed out).
    if _libc.mount(source.encode(), bytes(target), fstype.encode(), 0, options.encode()) != 0:
        raise SandboxError(
            f"could not mount {fstype} at {target}: {os.strerror(ctypes.get_errno())}",
            hint="the sandbox needs root and overlayfs/tmpfs support",
        )


def unmount(target: Path) -> None:
    """Unmount if mounted (lazily if busy); never raises for 'not mounted'."""
    if not is_mounted(target):
        return
    if _libc.umount2(bytes(target), 0) != 0:
        _libc.umount2(bytes(target), MNT_DETACH)


def is_mounted(target: Path) -> bool:
    return str(target) in mounted_paths()


def mounted_paths() -> set[str]:
    paths: set[str] = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                paths.add(fields[4].replace("\\040", " "))
    return paths
