"""What a held semtimedop, mq_timedreceive/mq_timedsend or futex_waitv waits for, read from
outside the sample.

A held call is not queued in the kernel (its thread waits for the keeper), so a semop, an
mq_send or a futex wake of another thread does not end it: the keeper reads the state the call
waits on instead. A SysV semaphore's values (semctl GETVAL, in the sample's IPC namespace: the
keeper's thread enters it for the read and goes back to its own after it); a message queue's
descriptor (our duplicate is pollable: readable while a message is queued, writable while there
is room); the futex words of a futex_waitv (waits.FutexProbe, one per word).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import struct
from dataclasses import dataclass

SYS_SEMCTL = 66
SYS_MQ_GETSETATTR = 245
GETVAL = 12
IPC_NOWAIT = 0o4000
CLONE_NEWIPC = 0x08000000
SEMOPM = 500  # the kernel's limit of ops per call (E2BIG beyond)
SEMVMX = 32767  # a semaphore's largest value (ERANGE beyond)
MQ_PRIO_MAX = 32768
FUTEX_WAITV_MAX = 128
FUTEX2_SIZE_U32, FUTEX2_PRIVATE = 0x02, 128
_libc = ctypes.CDLL(None, use_errno=True)


def _checked(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


# -- SysV semaphores ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SemOp:
    """struct sembuf { unsigned short sem_num; short sem_op; short sem_flg; }"""

    num: int
    op: int
    flags: int


def sem_ops(raw: bytes) -> tuple[SemOp, ...]:
    return tuple(SemOp(*struct.unpack_from("<Hhh", raw, at)) for at in range(0, len(raw), 6))


def blocking_op(values: dict[int, int], ops: tuple[SemOp, ...]) -> SemOp | None:
    """The op that would put semtimedop to sleep on these values, None when the call would not
    sleep. The ops are tried in order on a copy of the values, all or none, as the kernel does
    (perform_atomic_semop): a decrement below 0 or a wait for zero on a non-zero value blocks;
    an increment beyond SEMVMX fails (ERANGE), which is no sleep either."""
    trial = dict(values)
    for op in ops:
        value = trial[op.num]
        if op.op == 0:
            if value:
                return op
            continue
        if value + op.op < 0:
            return op
        if value + op.op > SEMVMX:
            return None
        trial[op.num] = value + op.op
    return None


@dataclass
class IpcNamespace:
    """The sample's IPC namespace, where its semaphore ids mean something. Entered by the calling
    thread only (setns(CLONE_NEWIPC) changes one thread; the keeper's thread makes every read)
    and left again after each read."""

    theirs: int  # our fd of /proc/TID/ns/ipc
    ours: int  # the calling thread's own

    @classmethod
    def of(cls, tid: int) -> IpcNamespace:
        theirs = os.open(f"/proc/{tid}/ns/ipc", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return cls(theirs, os.open("/proc/thread-self/ns/ipc", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            os.close(theirs)
            raise

    def semaphore_values(self, semid: int, nums: set[int]) -> dict[int, int]:
        """semctl(semid, num, GETVAL) of each; OSError when the set or a number is not there
        (EINVAL, EIDRM)."""
        _checked(_libc.setns(self.theirs, CLONE_NEWIPC))
        try:
            return {num: _checked(_libc.syscall(SYS_SEMCTL, semid, num, GETVAL, 0)) for num in nums}
        finally:
            _checked(_libc.setns(self.ours, CLONE_NEWIPC))

    def close(self) -> None:
        for fd in (self.theirs, self.ours):
            with contextlib.suppress(OSError):
                os.close(fd)


# -- POSIX message queues ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueAttributes:
    """struct mq_attr { long mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs; long pad[4]; }"""

    flags: int
    max_messages: int
    message_size: int
    messages: int


def queue_attributes(fd: int) -> QueueAttributes | None:
    """mq_getsetattr(fd, NULL, &attr); None when fd is not a message queue (EBADF)."""
    attr = (ctypes.c_long * 8)()
    if _libc.syscall(SYS_MQ_GETSETATTR, fd, None, ctypes.byref(attr)) < 0:
        return None
    return QueueAttributes(*attr[:4])


def queue_call_would_wait(fd: int, receive: bool, length: int, priority: int) -> bool:
    """Whether mq_timedreceive (`receive`) or mq_timedsend on our duplicate `fd` of the sample's
    descriptor would sleep when the queue is empty or full, rather than fail at once: a
    blocking queue opened for that direction, a receive buffer at least the queue's message
    size, a message at most that size, a priority below MQ_PRIO_MAX."""
    attr = queue_attributes(fd)
    if attr is None or attr.flags & os.O_NONBLOCK:
        return False
    mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    if receive:
        return mode in (os.O_RDONLY, os.O_RDWR) and length >= attr.message_size
    fits = length <= attr.message_size and priority < MQ_PRIO_MAX
    return mode in (os.O_WRONLY, os.O_RDWR) and fits


# -- futex_waitv -------------------------------------------------------------------------------


def waitv_words(raw: bytes) -> list[tuple[int, int]] | None:
    """struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 __reserved; }[nr] → (address,
    expected word) of each; None when the kernel would refuse them (EINVAL): a size other than
    32 bits (the only one futex_waitv takes), other flags (FUTEX2_NUMA), a reserved field set,
    a value wider than the word, an address not 4-byte aligned."""
    words = []
    for offset in range(0, len(raw), 24):
        value, address, flags, reserved = struct.unpack_from("<QQII", raw, offset)
        if flags & ~FUTEX2_PRIVATE != FUTEX2_SIZE_U32 or reserved or value >> 32 or address % 4:
            return None
        words.append((address, value))
    return words
