"""The seccomp user-notification fd: receive a trapped call, answer it (value, errno, or
"continue": the kernel runs the call itself), ask whether a trapped call is still waiting.

Structures as in <linux/seccomp.h> (x86_64):

    struct seccomp_data        { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }
    struct seccomp_notif       { u64 id; u32 pid; u32 flags; struct seccomp_data data; }
    struct seccomp_notif_resp  { u64 id; s64 val; s32 error; u32 flags; }
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
from dataclasses import dataclass

# _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp),
# _IOW('!', 2, __u64)
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101
NOTIF_ID_VALID = 0x40082102
FLAG_CONTINUE = 1  # SECCOMP_USER_NOTIF_FLAG_CONTINUE: let the kernel run the call as asked


class _Data(ctypes.Structure):
    _fields_ = [
        ("nr", ctypes.c_int32),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
    ]


class _Notif(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("data", _Data),
    ]


class _Resp(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("val", ctypes.c_int64),
        ("error", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
    ]


SYS_SECCOMP = 317
SECCOMP_GET_NOTIF_SIZES = 3
_libc = ctypes.CDLL(None, use_errno=True)


def kernel_sizes() -> tuple[int, int, int]:
    """The kernel's sizes of seccomp_notif, seccomp_notif_resp and seccomp_data
    (SECCOMP_GET_NOTIF_SIZES); the structures above must match them."""
    sizes = (ctypes.c_uint16 * 3)()
    if _libc.syscall(SYS_SECCOMP, SECCOMP_GET_NOTIF_SIZES, 0, ctypes.byref(sizes)) != 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_GET_NOTIF_SIZES) failed")
    return sizes[0], sizes[1], sizes[2]


OUR_SIZES = (ctypes.sizeof(_Notif), ctypes.sizeof(_Resp), ctypes.sizeof(_Data))


@dataclass(frozen=True)
class Notification:
    id: int
    pid: int  # host tid of the calling thread
    nr: int  # syscall number (x86_64)
    arch: int
    args: tuple[int, ...]
    instruction_pointer: int = 0


class NotifyFd:
    """Owns the listener fd runc handed over (closed by `close`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def wait_readable(self, timeout: float) -> bool:
        """True when a notification is waiting; False on timeout. Raises EOFError when no
        process of the filter is left (POLLHUP)."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        events = poller.poll(int(timeout * 1000))
        if not events:
            return False
        mask = events[0][1]
        if mask & select.POLLIN:
            return True
        if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            raise EOFError("no process left under the seccomp filter")
        return False

    def receive(self) -> Notification | None:
        """One notification; None when it vanished (the caller was killed meanwhile)."""
        notif = _Notif()  # the kernel refuses a buffer that is not zeroed
        try:
            fcntl.ioctl(self.fd, NOTIF_RECV, notif)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EINTR):
                return None
            raise
        data = notif.data
        return Notification(
            notif.id, notif.pid, data.nr, data.arch, tuple(data.args), data.instruction_pointer
        )

    def respond(self, id: int, val: int = 0, error: int = 0) -> bool:
        """Return `val` (error 0) or fail with -`error`. False when the caller is gone."""
        return self._send(_Resp(id, val, -error if error else 0, 0))

    def proceed(self, id: int) -> bool:
        """Let the kernel run the call itself (the wait is over, or it is not ours to emulate)."""
        return self._send(_Resp(id, 0, 0, FLAG_CONTINUE))

    def valid(self, id: int) -> bool:
        """Whether the trapped call still waits for an answer (its thread was not killed or
        interrupted by a signal)."""
        try:
            fcntl.ioctl(self.fd, NOTIF_ID_VALID, ctypes.c_uint64(id))
        except OSError:
            return False
        return True

    def _send(self, resp: _Resp) -> bool:
        try:
            fcntl.ioctl(self.fd, NOTIF_SEND, resp)
        except OSError as exc:
            if exc.errno == errno.ENOENT:  # killed, or a signal interrupted the call
                return False
            raise
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
