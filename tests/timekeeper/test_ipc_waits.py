"""semtimedop, mq_timedreceive/mq_timedsend and futex_waitv are timed waits: held until their
deadline (relative for semtimedop; absolute, on the sample's virtual clock, for the others)
and released when the input they wait for comes. Decoded for this process, with real kernel
objects of its own (a SysV semaphore set, a message queue, futex words in its memory), read
as the keeper reads the sample's: /proc/PID/mem, pidfd_getfd, semctl in its IPC namespace."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from detonate.sandbox.timekeeper import ipc, memory, waits
from detonate.sandbox.timekeeper.calls import NR, notify_rules
from detonate.sandbox.timekeeper.notify import Notification

NS = 1_000_000_000
IPC_PRIVATE, IPC_CREAT, IPC_RMID, SETVAL = 0, 0o1000, 0, 16
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME = 0, 1, 7
SHARED_U32, PRIVATE_U32 = 0x02, 0x82
_libc = ctypes.CDLL(None, use_errno=True)


class Memory:
    """Buffers of this process whose addresses go into a call's arguments (kept alive)."""

    def __init__(self) -> None:
        self.kept: list[ctypes.Array[ctypes.c_char]] = []

    def put(self, data: bytes) -> int:
        buffer = ctypes.create_string_buffer(data, len(data))
        self.kept.append(buffer)
        return ctypes.addressof(buffer)


def timespec(ns: int) -> bytes:
    return struct.pack("<qq", *divmod(ns, NS))


def decode(call: str, *args: int, now: waits.Now | None = None) -> waits.Answer:
    note = Notification(1, os.getpid(), NR[call], 0, (*args, *[0] * (6 - len(args))))
    return waits.decode(note, os.getpid(), now or waits.Now(virtual=5 * NS, offset=0))


def held(answer: waits.Answer) -> waits.Hold:
    assert isinstance(answer, waits.Hold), answer
    return answer


def now_real() -> waits.Now:
    """No time skipped: virtual monotonic is the real one (absolute deadlines need it)."""
    return waits.Now(virtual=time.monotonic_ns(), offset=0)


# -- timeouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sec", "nsec", "ns"),
    [(900, 0, 900 * NS), (0, 999_999_999, 999_999_999), (-1, 0, None), (1, NS, None),
     (1, -1, None)],
)  # fmt: skip
def test_a_timeout_the_kernel_refuses_is_none(sec: int, nsec: int, ns: int | None) -> None:
    mem = Memory()  # kept alive while its buffer is read
    assert memory.timeout_ns(os.getpid(), mem.put(struct.pack("<qq", sec, nsec))) == ns


# -- SysV semaphores -----------------------------------------------------------------------------


def ops(*triples: tuple[int, int, int]) -> tuple[ipc.SemOp, ...]:
    return ipc.sem_ops(b"".join(struct.pack("<Hhh", *t) for t in triples))


def test_semaphore_ops_block_as_the_kernel_tries_them_all_or_none_in_order() -> None:
    assert ipc.blocking_op({0: 0}, ops((0, -1, 0))) == ipc.SemOp(0, -1, 0)
    assert ipc.blocking_op({0: 1}, ops((0, -1, 0))) is None
    assert ipc.blocking_op({0: 2}, ops((0, 0, 0))) == ipc.SemOp(0, 0, 0)  # wait for zero
    assert ipc.blocking_op({0: 0}, ops((0, 1, 0), (0, -1, 0))) is None  # in order, on a copy
    assert ipc.blocking_op({0: 0}, ops((0, -1, 0), (0, 1, 0))) is not None
    assert ipc.blocking_op({0: 1, 1: 0}, ops((0, -1, 0), (1, -1, ipc.IPC_NOWAIT))) == ipc.SemOp(
        1, -1, ipc.IPC_NOWAIT
    )
    assert ipc.blocking_op({0: ipc.SEMVMX}, ops((0, 1, 0))) is None  # ERANGE, not a sleep


@pytest.fixture
def semaphores() -> Iterator[int]:
    """A set of two semaphores of 0. Reading them as the keeper does enters an IPC namespace
    (setns), which needs CAP_SYS_ADMIN: root, as the keeper runs."""
    if os.geteuid() != 0:
        pytest.skip("setns(CLONE_NEWIPC) needs root, as the time keeper has")
    semid = _libc.semget(IPC_PRIVATE, 2, IPC_CREAT | 0o600)
    assert semid >= 0, os.strerror(ctypes.get_errno())
    yield semid
    _libc.semctl(semid, 0, IPC_RMID)


def semtimedop(semid: int, sops: bytes, timeout: bytes) -> waits.Answer:
    mem = Memory()
    return decode("semtimedop", semid, mem.put(sops), len(sops) // 6, mem.put(timeout))


def test_a_semtimedop_that_would_block_is_held_for_its_relative_timeout(semaphores: int) -> None:
    hold = held(semtimedop(semaphores, struct.pack("<Hhh", 1, -1, 0), timespec(900 * NS)))
    assert (hold.call, hold.requested_ns, hold.deadline) == ("semtimedop", 900 * NS, 905 * NS)
    assert hold.on_timeout == waits.Reply(error=errno.EAGAIN)  # the kernel's timeout
    assert not hold.probe.ready()
    assert _libc.semctl(semaphores, 1, SETVAL, 1) == 0  # another process's semop
    assert hold.probe.ready()  # the kernel re-runs the call: it succeeds
    hold.probe.close()


def test_a_semtimedop_released_when_a_wait_for_zero_can_go_through(semaphores: int) -> None:
    assert _libc.semctl(semaphores, 0, SETVAL, 3) == 0
    hold = held(semtimedop(semaphores, struct.pack("<Hhh", 0, 0, 0), timespec(60 * NS)))
    assert not hold.probe.ready()
    assert _libc.semctl(semaphores, 0, SETVAL, 0) == 0
    assert hold.probe.ready()
    hold.probe.close()


def test_a_semtimedop_whose_set_is_removed_is_released_to_the_kernel(semaphores: int) -> None:
    hold = held(semtimedop(semaphores, struct.pack("<Hhh", 0, -1, 0), timespec(60 * NS)))
    _libc.semctl(semaphores, 0, IPC_RMID)
    assert hold.probe.ready()  # the kernel answers EIDRM/EINVAL
    hold.probe.close()


@pytest.mark.parametrize(
    ("sop", "timeout"),
    [
        ((0, 1, 0), 900 * NS),  # an increment never sleeps
        ((0, 0, 0), 900 * NS),  # the value is 0 already
        ((0, -1, ipc.IPC_NOWAIT), 900 * NS),  # EAGAIN at once
        ((5, -1, 0), 900 * NS),  # no such semaphore: EFBIG
    ],
)
def test_a_semtimedop_that_would_not_sleep_long_is_the_kernels(
    semaphores: int, sop: tuple[int, int, int], timeout: int
) -> None:
    assert isinstance(
        semtimedop(semaphores, struct.pack("<Hhh", *sop), timespec(timeout)), waits.Proceed
    )


def test_a_semtimedop_of_10_ms_or_less_is_marked_short(semaphores: int) -> None:
    """The keeper leaves it to the kernel unless it is a countdown's round (clock.ShortRuns)."""
    hold = semtimedop(semaphores, struct.pack("<Hhh", 0, -1, 0), timespec(5_000_000))
    assert isinstance(hold, waits.Hold) and hold.short
    hold.probe.close()


def test_a_semtimedop_with_an_invalid_timeout_is_the_kernels(semaphores: int) -> None:
    bad = struct.pack("<qq", 1, NS)
    assert isinstance(semtimedop(semaphores, struct.pack("<Hhh", 0, -1, 0), bad), waits.Proceed)


# -- POSIX message queues ------------------------------------------------------------------------


class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                ("pad", ctypes.c_long * 4)]  # fmt: skip


def open_queue(flags: int = os.O_RDWR, maxmsg: int = 2, msgsize: int = 64) -> int:
    name = f"/detonate-test-{os.getpid()}".encode()
    attr = MqAttr(0, maxmsg, msgsize, 0)
    mqd = _libc.mq_open(name, os.O_CREAT | os.O_EXCL | flags, 0o600, ctypes.byref(attr))
    assert mqd >= 0, os.strerror(ctypes.get_errno())
    _libc.mq_unlink(name)  # the descriptor keeps it
    return int(mqd)


@pytest.fixture
def queue() -> Iterator[int]:
    mqd = open_queue()
    yield mqd
    os.close(mqd)


def mq_call(
    call: str, mqd: int, length: int, at_ns: int, now: waits.Now, prio: int = 0
) -> waits.Answer:
    mem = Memory()
    buffer = mem.put(bytes(max(length, 1)))
    return decode(call, mqd, buffer, length, prio, mem.put(timespec(at_ns)), now=now)


def test_a_receive_on_an_empty_queue_is_held_to_its_absolute_realtime_deadline(
    queue: int,
) -> None:
    now = now_real()
    at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 900 * NS
    hold = held(mq_call("mq_timedreceive", queue, 64, at, now))
    assert hold.call == "mq_timedreceive"
    assert hold.requested_ns == pytest.approx(900 * NS, abs=NS // 10)
    assert hold.on_timeout == waits.Reply(error=errno.ETIMEDOUT)
    assert not hold.probe.ready()
    assert _libc.mq_send(queue, b"go", 2, 0) == 0  # another process's mq_send
    assert hold.probe.ready()  # the kernel re-runs the receive: it returns the message
    hold.probe.close()
    assert isinstance(mq_call("mq_timedreceive", queue, 64, at, now_real()), waits.Proceed)


def test_a_message_queue_deadline_is_read_on_the_samples_virtual_clock(queue: int) -> None:
    """600 s skipped: the sample read CLOCK_REALTIME 600 s ahead and added 900 s."""
    real = now_real()
    now = waits.Now(virtual=real.virtual + 600 * NS, offset=600 * NS)
    at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 600 * NS + 900 * NS
    hold = held(mq_call("mq_timedreceive", queue, 64, at, now))
    assert hold.requested_ns == pytest.approx(900 * NS, abs=NS // 10)
    hold.probe.close()
    past = at - 1000 * NS  # gone by in the sample's time, though not in real time
    answer = mq_call("mq_timedreceive", queue, 64, past, now)
    assert answer == waits.Reply(error=errno.ETIMEDOUT)


def test_a_send_to_a_full_queue_is_held_until_there_is_room() -> None:
    mqd = open_queue(maxmsg=1)
    try:
        assert _libc.mq_send(mqd, b"first", 5, 0) == 0
        at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 900 * NS
        hold = held(mq_call("mq_timedsend", mqd, 6, at, now_real()))
        assert (hold.call, hold.on_timeout) == ("mq_timedsend", waits.Reply(error=errno.ETIMEDOUT))
        assert not hold.probe.ready()
        buffer = ctypes.create_string_buffer(64)
        assert _libc.mq_receive(mqd, buffer, 64, None) == 5  # room again
        assert hold.probe.ready()
        hold.probe.close()
    finally:
        os.close(mqd)


def test_a_queue_call_that_would_fail_or_not_wait_is_the_kernels(queue: int) -> None:
    at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 900 * NS
    assert isinstance(
        mq_call("mq_timedreceive", queue, 63, at, now_real()), waits.Proceed
    )  # EMSGSIZE
    assert isinstance(mq_call("mq_timedsend", queue, 65, at, now_real()), waits.Proceed)  # EMSGSIZE
    assert isinstance(mq_call("mq_timedsend", queue, 1, at, now_real()), waits.Proceed)  # room
    assert isinstance(  # EINVAL
        mq_call("mq_timedsend", queue, 1, at, now_real(), prio=ipc.MQ_PRIO_MAX), waits.Proceed
    )
    write_only = open_queue(os.O_WRONLY)
    nonblocking = open_queue(os.O_RDWR | os.O_NONBLOCK)
    try:
        for mqd in (write_only, nonblocking):  # EBADF; EAGAIN at once
            assert isinstance(mq_call("mq_timedreceive", mqd, 64, at, now_real()), waits.Proceed)
    finally:
        os.close(write_only)
        os.close(nonblocking)
    reader, writer = os.pipe()
    try:  # not a queue: EBADF
        assert isinstance(mq_call("mq_timedreceive", reader, 64, at, now_real()), waits.Proceed)
    finally:
        os.close(reader)
        os.close(writer)


# -- futex_waitv ---------------------------------------------------------------------------------


def waiter_entries(*entries: tuple[int, int, int]) -> bytes:
    """(value, address, flags) → struct futex_waitv[]"""
    return b"".join(
        struct.pack("<QQII", value, address, flags, 0) for value, address, flags in entries
    )


def futex_waitv(
    entries: bytes, at_ns: int, clock: int, flags: int = 0, now: waits.Now | None = None
) -> waits.Answer:
    mem = Memory()
    count = len(entries) // 24
    return decode(
        "futex_waitv", mem.put(entries), count, flags, mem.put(timespec(at_ns)), clock,
        now=now or now_real(),
    )  # fmt: skip


def test_a_futex_waitv_is_held_to_its_absolute_deadline_until_a_word_changes() -> None:
    words = (ctypes.c_uint32 * 2)(0, 7)
    first, second = ctypes.addressof(words), ctypes.addressof(words) + 4
    entries = waiter_entries((0, first, PRIVATE_U32), (7, second, SHARED_U32))
    at = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 900 * NS
    hold = held(futex_waitv(entries, at, CLOCK_MONOTONIC))
    assert hold.call == "futex_waitv"
    assert hold.requested_ns == pytest.approx(900 * NS, abs=NS // 10)
    assert hold.on_timeout == waits.Reply(error=errno.ETIMEDOUT)
    assert not hold.probe.ready()
    words[1] = 8  # a waker changes the word before FUTEX_WAKE
    assert hold.probe.ready()
    assert isinstance(futex_waitv(entries, at, CLOCK_MONOTONIC), waits.Proceed)  # EAGAIN


def test_a_futex_waitv_on_realtime_reads_the_virtual_clock() -> None:
    word = ctypes.c_uint32(0)
    entries = waiter_entries((0, ctypes.addressof(word), PRIVATE_U32))
    real = now_real()
    now = waits.Now(virtual=real.virtual + 300 * NS, offset=300 * NS)
    at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 300 * NS + 60 * NS
    hold = held(futex_waitv(entries, at, CLOCK_REALTIME, now=now))
    assert hold.requested_ns == pytest.approx(60 * NS, abs=NS // 10)
    assert futex_waitv(entries, at - 120 * NS, CLOCK_REALTIME, now=now) == waits.Reply(
        error=errno.ETIMEDOUT
    )


@pytest.mark.parametrize(
    ("value", "offset", "flags", "call_flags", "clock"),
    [
        (0, 0, PRIVATE_U32, 1, CLOCK_MONOTONIC),  # flags of the call: EINVAL
        (0, 0, PRIVATE_U32, 0, CLOCK_BOOTTIME),  # only MONOTONIC and REALTIME
        (0, 0, 0x03, 0, CLOCK_MONOTONIC),  # 64-bit words: not for futex_waitv
        (0, 2, PRIVATE_U32, 0, CLOCK_MONOTONIC),  # misaligned
        (1 << 32, 0, PRIVATE_U32, 0, CLOCK_MONOTONIC),  # wider than the word
    ],
)
def test_a_futex_waitv_the_kernel_refuses_is_the_kernels(
    value: int, offset: int, flags: int, call_flags: int, clock: int
) -> None:
    words = (ctypes.c_uint32 * 2)(0, 0)
    entries = waiter_entries((value, ctypes.addressof(words) + offset, flags))
    at = time.clock_gettime_ns(clock) + 900 * NS
    assert isinstance(futex_waitv(entries, at, clock, flags=call_flags), waits.Proceed)


# -- the traps -----------------------------------------------------------------------------------


def test_the_new_waits_are_trapped_only_with_a_timeout() -> None:
    """A NULL timeout (semop, mq_receive, an untimed futex_waitv) waits for input alone."""
    timeouts = {
        name: [a for a in rule.get("args", []) if a["op"] == "SCMP_CMP_NE" and a["value"] == 0]
        for rule in notify_rules()
        for name in rule["names"]
    }
    expected = {"semtimedop": 3, "futex_waitv": 3, "mq_timedsend": 4, "mq_timedreceive": 4}
    for name, index in expected.items():
        assert [a["index"] for a in timeouts[name]] == [index], name


# -- FUTEX_LOCK_PI ---------------------------------------------------------------------------

LOCK_PI_PRIVATE, LOCK_PI2_PRIVATE, CLOCK_REALTIME_FLAG = 6 | 128, 13 | 128, 256


def lock_pi(word: ctypes.c_uint32, op: int, at_ns: int, now: waits.Now) -> waits.Answer:
    mem = Memory()
    return decode("futex", ctypes.addressof(word), op, 0, mem.put(timespec(at_ns)), now=now)


def test_a_pi_lock_another_thread_holds_is_held_to_its_deadline_until_the_word_is_free() -> None:
    """pthread_mutex_timedlock of a PTHREAD_PRIO_INHERIT mutex: the word holds the owner's tid
    (FUTEX_WAITERS set too, as the kernel would for its own waiters). LOCK_PI's deadline is on
    the (virtual) realtime clock; the owner's unlock frees the word in user space."""
    word = ctypes.c_uint32(0x80000000 | 4242)  # FUTEX_WAITERS | an owner that is not us
    real = now_real()
    now = waits.Now(virtual=real.virtual + 300 * NS, offset=300 * NS)
    at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 300 * NS + 900 * NS
    hold = held(lock_pi(word, LOCK_PI_PRIVATE, at, now))
    assert hold.call == "futex"
    assert hold.requested_ns == pytest.approx(900 * NS, abs=NS // 10)
    assert hold.on_timeout == waits.Reply(error=errno.ETIMEDOUT)
    assert not hold.probe.ready() and not hold.probe.time_only()
    word.value = 0x40000000  # a robust lock's owner died: no owner, FUTEX_OWNER_DIED
    assert hold.probe.ready()
    word.value = 0
    assert isinstance(lock_pi(word, LOCK_PI_PRIVATE, at, now), waits.Proceed)  # free: taken


def test_lock_pi2_is_on_the_monotonic_clock_unless_asked_for_realtime() -> None:
    word = ctypes.c_uint32(4242)
    real = now_real()
    monotonic_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 60 * NS
    assert held(lock_pi(word, LOCK_PI2_PRIVATE, monotonic_at, real)).requested_ns == (
        pytest.approx(60 * NS, abs=NS // 10)
    )
    realtime_at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 60 * NS
    flags = LOCK_PI2_PRIVATE | CLOCK_REALTIME_FLAG
    assert held(lock_pi(word, flags, realtime_at, real)).requested_ns == (
        pytest.approx(60 * NS, abs=NS // 10)
    )


WAIT_REQUEUE_PI_PRIVATE = 11 | 128


def test_a_condvar_wait_on_a_pi_mutex_is_held_to_its_absolute_deadline() -> None:
    """FUTEX_WAIT_REQUEUE_PI (glibc < 2.25's condvar on a PI mutex): absolute, on the
    monotonic clock unless FUTEX_CLOCK_REALTIME; the waker bumps the word before it requeues,
    so a changed word releases the held waiter (its re-run returns EAGAIN); trapped with a
    timeout only."""
    word, pi_word = ctypes.c_uint32(0), ctypes.c_uint32(0)
    real = now_real()
    mem = Memory()
    for flags, clock in [(0, time.CLOCK_MONOTONIC), (CLOCK_REALTIME_FLAG, time.CLOCK_REALTIME)]:
        at = mem.put(timespec(time.clock_gettime_ns(clock) + 900 * NS))
        hold = held(
            decode("futex", ctypes.addressof(word), WAIT_REQUEUE_PI_PRIVATE | flags, 0, at,
                   ctypes.addressof(pi_word), now=real)
        )  # fmt: skip
        assert hold.requested_ns == pytest.approx(900 * NS, abs=NS // 10)
        assert hold.on_timeout == waits.Reply(error=errno.ETIMEDOUT)
        assert not hold.probe.ready()
    word.value = 1
    assert hold.probe.ready()
    futex_rules = [r for r in notify_rules() if r["names"] == ["futex"]]
    assert any(a["index"] == 1 and a["valueTwo"] == 11 for r in futex_rules for a in r["args"]), (
        "FUTEX_WAIT_REQUEUE_PI is trapped"
    )


def test_a_pi_lock_the_caller_owns_is_the_kernels() -> None:
    """Locking one's own PI mutex again: the kernel answers EDEADLK at once; held, it would
    time out 900 s later instead."""
    word = ctypes.c_uint32(threading.get_native_id())  # this process is its own namespace's
    at = time.clock_gettime_ns(time.CLOCK_REALTIME) + 900 * NS
    assert memory.namespace_tid(threading.get_native_id()) == threading.get_native_id()
    assert isinstance(lock_pi(word, LOCK_PI_PRIVATE, at, now_real()), waits.Proceed)
