"""Open a directory strictly beneath a root fd: the kernel refuses every symlink on the way.

The merged tree already resolves symlinks inside the image root; this is the second, independent
guard: whatever the tree believes, a write can only land in a real directory under the root.
"""

from __future__ import annotations

import ctypes
import errno
import os

_SYS_OPENAT2 = 437  # the same number on every Linux architecture (added in 5.6)
_RESOLVE_NO_XDEV = 0x01
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_openat2_works = True


def open_dir_beneath(root_fd: int, relative: str) -> int:
    """An O_PATH fd of the directory `relative` ("usr/bin") under `root_fd`, no symlinks."""
    global _openat2_works
    if not relative:
        return os.dup(root_fd)
    if _openat2_works:
        how = _OpenHow(
            _DIR_FLAGS,
            0,
            _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS | _RESOLVE_NO_XDEV,
        )
        fd = _libc.syscall(
            _SYS_OPENAT2,
            ctypes.c_int(root_fd),
            ctypes.c_char_p(os.fsencode(relative)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EPERM):  # EPERM: seccomp filters that block openat2
            raise OSError(err, os.strerror(err), relative)
        _openat2_works = False
    return walk_dir_beneath(root_fd, relative)


def walk_dir_beneath(root_fd: int, relative: str) -> int:
    """The same as `open_dir_beneath`, one component at a time (kernels without openat2)."""
    fd = os.dup(root_fd)
    try:
        for name in relative.split("/"):
            if name in ("", ".", ".."):
                raise OSError(errno.EINVAL, "path component not allowed", relative)
            # O_NOFOLLOW | O_DIRECTORY: a symlink component fails with ENOTDIR or ELOOP.
            next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd
