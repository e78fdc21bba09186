"""Reading and writing a traced thread's memory through /proc/TID/mem (as root; the kernel's
FOLL_FORCE lets a write land in read-only pages such as the vDSO's code, copying the page for
that process only, as a debugger's breakpoint does). Failures are OSError (EFAULT, ESRCH)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import struct
from dataclasses import dataclass, field

from detonate.sandbox.timekeeper import bounded

SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)
MAX_TGIDS = 4096  # threads whose process Tgids keeps


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


def read(tid: int, address: int, size: int) -> bytes:
    if address == 0:
        raise OSError(errno.EFAULT, "NULL pointer")
    # process_vm_readv: one call where /proc/TID/mem takes three (each round of a countdown
    # reads its timeout); the file, which may read what the other may not, when it fails
    buffer = ctypes.create_string_buffer(size)
    here, there = _IoVec(ctypes.addressof(buffer), size), _IoVec(address, size)
    if _libc.process_vm_readv(tid, ctypes.byref(here), 1, ctypes.byref(there), 1, 0) == size:
        return buffer.raw
    fd = os.open(f"/proc/{tid}/mem", os.O_RDONLY)
    try:
        data = os.pread(fd, size, address)
    finally:
        os.close(fd)
    if len(data) != size:
        raise OSError(errno.EFAULT, f"short read at {address:#x}")
    return data


def write(tid: int, address: int, data: bytes) -> None:
    if address == 0:
        raise OSError(errno.EFAULT, "NULL pointer")
    fd = os.open(f"/proc/{tid}/mem", os.O_RDWR)
    try:
        written = os.pwrite(fd, data, address)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(errno.EFAULT, f"short write at {address:#x}")


def word(tid: int, address: int) -> int:
    """The 32-bit word at `address` (a futex's)."""
    value: int = struct.unpack("<I", read(tid, address, 4))[0]
    return value


def timespec(tid: int, address: int) -> float:
    """struct timespec { long tv_sec; long tv_nsec; } → seconds."""
    sec, nsec = struct.unpack("<qq", read(tid, address, 16))
    return float(sec + nsec / 1e9)


def timespec_ns(tid: int, address: int) -> int:
    sec, nsec = struct.unpack("<qq", read(tid, address, 16))
    return int(sec * 1_000_000_000 + nsec)


def timeval(tid: int, address: int) -> float:
    """struct timeval { long tv_sec; long tv_usec; } → seconds."""
    sec, usec = struct.unpack("<qq", read(tid, address, 16))
    return float(sec + usec / 1e6)


def tgid_of(tid: int) -> int:
    """The process a thread belongs to; the tid itself when /proc no longer says."""
    return _status(tid, ("Tgid:",)).get("Tgid:", tid)


@dataclass
class Tgids:
    """`tgid_of`, asked of every trapped wait (90,000 times in a countdown of short sleeps):
    a thread's answer is kept while /proc shows the thread in that process (a stat, where
    /proc/<tid>/status is generated whole), so a tid given to another thread since is read
    again. One per time keeper (its thread alone asks)."""

    _known: dict[int, int] = field(default_factory=dict)

    def of(self, tid: int) -> int:
        tgid = self._known.get(tid)
        if tgid is not None and os.path.exists(f"/proc/{tgid}/task/{tid}"):
            return tgid
        tgid = tgid_of(tid)
        bounded.remember(self._known, tid, tgid, MAX_TGIDS)
        return tgid


def kin_of(tid: int) -> tuple[int, int]:
    """(process, parent process) of a thread; (tid, 0) when /proc no longer says."""
    fields = _status(tid, ("Tgid:", "PPid:"))
    return fields.get("Tgid:", tid), fields.get("PPid:", 0)


def namespace_tid(tid: int) -> int:
    """A thread's id as its own pid namespace numbers it (what a PI lock's word holds): the last
    of /proc/<tid>/status' NSpid; 0 when gone."""
    return _status(tid, ("NSpid:",)).get("NSpid:", 0)


def _status(tid: int, names: tuple[str, ...]) -> dict[str, int]:
    """The numeric fields `names` of /proc/<tid>/status ("Tgid:" …), read up to the last one
    (they come early), each its last number (NSpid's: the thread's own namespace's); none when
    the thread is gone."""
    fields: dict[str, int] = {}
    status = f"/proc/{tid}/status"
    with contextlib.suppress(OSError, ValueError, IndexError), open(status) as lines:
        for line in lines:
            if line.startswith(names):
                fields[line.split()[0]] = int(line.split()[-1])
                if len(fields) == len(names):
                    break
    return fields


def duplicate_fd(pid: int, fd: int) -> int:
    """A descriptor of ours for the open file behind fd `fd` of process `pid` (pidfd_getfd):
    polling it tells whether the sample's wait on it would end now. -1 when impossible."""
    pidfd = _libc.syscall(SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        return -1
    try:
        return int(_libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0))
    finally:
        os.close(pidfd)


def timeout_ns(tid: int, address: int) -> int | None:
    """A struct timespec the kernel accepts as a timeout (timespec64_valid: tv_sec ≥ 0,
    0 ≤ tv_nsec < 1e9), in ns; None when it would answer EINVAL."""
    sec, nsec = struct.unpack("<qq", read(tid, address, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return None
    return int(sec * 1_000_000_000 + nsec)
