"""POSIX timers as the keeper reads, sets and fires them, on this process's own real timers
(created with glibc's timer_create, read back from /proc/PID/timers as the keeper reads the
sample's) and real signals to a child process."""

from __future__ import annotations

import ctypes
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from detonate.sandbox.timekeeper import posix_timers, waits
from detonate.sandbox.timekeeper.calls import NR
from detonate.sandbox.timekeeper.notify import Notification

NS = 1_000_000_000
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID = 0, 1, 4
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID = 0, 1, 2
_libc = ctypes.CDLL(None, use_errno=True)


class _Sigevent(ctypes.Structure):
    _fields_ = [
        ("value", ctypes.c_uint64),
        ("signo", ctypes.c_int),
        ("notify", ctypes.c_int),
        ("tid", ctypes.c_int),
        ("pad", ctypes.c_byte * 44),
    ]


MakeTimer = Callable[..., int]


@pytest.fixture
def make_timer() -> Iterator[MakeTimer]:
    made: list[ctypes.c_void_p] = []

    def create(clock: int, notify: int | None = None, signo: int = 0, value: int = 0,
               tid: int = 0) -> int:  # fmt: skip
        timer = ctypes.c_void_p()
        event = _Sigevent(value, signo, notify or 0, tid) if notify is not None else None
        pointer = ctypes.byref(event) if event is not None else None
        assert _libc.timer_create(clock, pointer, ctypes.byref(timer)) == 0
        made.append(timer)
        return int(timer.value or 0)

    yield create
    for timer in made:
        _libc.timer_delete(timer)


Spec = ctypes.Array[ctypes.c_int64]


def settime(
    timer_id: int,
    flags: int,
    value: tuple[int, int],
    interval: tuple[int, int] = (0, 0),
    old: int = 0,
    now: int = 5 * NS,
) -> tuple[waits.Answer, Spec]:
    """The keeper's answer to this thread's timer_settime(timer_id, flags, {interval, value},
    old) at virtual time `now` (the itimerspec returned is kept alive by the caller)."""
    spec = (ctypes.c_int64 * 4)(*interval, *value)
    args = (timer_id, flags, ctypes.addressof(spec), old, 0, 0)
    note = Notification(1, threading.get_native_id(), NR["timer_settime"], 0, args)
    return waits.decode(note, os.getpid(), waits.Now(virtual=now, offset=0)), spec


def test_proc_timers_say_what_each_timer_sends_and_to_whom(make_timer: MakeTimer) -> None:
    default = make_timer(CLOCK_REALTIME)
    to_thread = make_timer(CLOCK_MONOTONIC, SIGEV_THREAD_ID, signal.SIGUSR2, 0xBEEF,
                           threading.get_native_id())  # fmt: skip
    quiet = make_timer(CLOCK_MONOTONIC, SIGEV_NONE)
    timers = posix_timers.timers_of(os.getpid())
    # NULL sigevent: SIGALRM to the process, the timer's id as its value (coreutils' timeout)
    assert timers[default] == posix_timers.KernelTimer(
        default, signal.SIGALRM, default, "signal", False, os.getpid(), CLOCK_REALTIME
    )
    assert timers[to_thread] == posix_timers.KernelTimer(
        to_thread, signal.SIGUSR2, 0xBEEF, "signal", True, threading.get_native_id(),
        CLOCK_MONOTONIC,
    )  # fmt: skip
    assert timers[default].delivers and not timers[quiet].delivers
    assert posix_timers.find(os.getpid(), 12345) is None


def test_timer_settime_becomes_a_timer_of_the_keeper(make_timer: MakeTimer) -> None:
    timer_id = make_timer(CLOCK_MONOTONIC)
    answer, _ = settime(timer_id, 0, (900, 0), (60, 0))
    assert isinstance(answer, waits.SetTimer)
    assert (answer.deadline, answer.interval_ns, answer.slot) == (905 * NS, 60 * NS,
                                                                  ("posix", timer_id))  # fmt: skip
    assert answer.posix is not None and answer.posix.signal == signal.SIGALRM
    assert not answer.passthrough
    disarm, _ = settime(timer_id, 0, (0, 0))
    assert isinstance(disarm, waits.SetTimer) and disarm.deadline is None
    short, _ = settime(timer_id, 0, (0, 5_000_000))  # 5 ms: nothing to gain, the kernel's
    assert isinstance(short, waits.SetTimer) and short.passthrough
    fast, _ = settime(timer_id, 0, (0, 5_000_000), (0, 5_000_000))  # the kernel's until disarmed
    assert isinstance(fast, waits.SetTimer) and fast.passthrough and fast.interval_ns
    # a long first expiry, however fast it then repeats, is the keeper's
    late, _ = settime(timer_id, 0, (900, 0), (0, 5_000_000))
    assert isinstance(late, waits.SetTimer) and not late.passthrough
    assert late.deadline == 905 * NS


def test_an_absolute_realtime_deadline_is_read_in_virtual_time(make_timer: MakeTimer) -> None:
    """The sample computed it from its (virtual) CLOCK_REALTIME: 900 s from then is 900 s
    from the virtual now."""
    timer_id = make_timer(CLOCK_REALTIME)
    offset = 3600 * NS
    virtual_now = time.clock_gettime_ns(CLOCK_MONOTONIC) + offset
    at = time.clock_gettime_ns(CLOCK_REALTIME) + offset + 900 * NS
    answer, _ = settime(timer_id, 1, divmod(at, NS), now=virtual_now)
    assert isinstance(answer, waits.SetTimer) and answer.deadline is not None
    assert answer.deadline - virtual_now == pytest.approx(900 * NS, abs=NS // 100)
    # 5 ms ahead in virtual time is 3600 s ahead for the kernel: the keeper's, not passed on
    soon, _ = settime(timer_id, 1, divmod(at - 900 * NS + 5_000_000, NS), now=virtual_now)
    assert isinstance(soon, waits.SetTimer) and not soon.passthrough
    assert soon.deadline is not None and soon.deadline - virtual_now < 10_000_000


def test_cpu_time_timers_unknown_ids_and_bad_values_are_the_kernels(make_timer: MakeTimer) -> None:
    cpu = make_timer(CLOCK_PROCESS_CPUTIME_ID)
    assert isinstance(settime(cpu, 0, (900, 0))[0], waits.Proceed)
    assert isinstance(settime(99999, 0, (900, 0))[0], waits.Proceed)  # EINVAL, from the kernel
    real = make_timer(CLOCK_MONOTONIC)
    assert isinstance(settime(real, 0, (900, NS))[0], waits.Proceed)  # tv_nsec out of range


def test_the_old_value_is_written_as_an_itimerspec(make_timer: MakeTimer) -> None:
    timer_id = make_timer(CLOCK_MONOTONIC)
    old = (ctypes.c_int64 * 4)()
    answer, _ = settime(timer_id, 0, (900, 0), old=ctypes.addressof(old))
    assert isinstance(answer, waits.SetTimer) and answer.old_writes is not None
    ((address, data),) = answer.old_writes(299 * NS + 5, 300 * NS)
    assert address == ctypes.addressof(old)
    assert struct.unpack("<qqqq", data) == (300, 0, 299, 5)


CHILD = """
import signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready", flush=True)
info = signal.sigwaitinfo({signal.SIGUSR1})
print(info.si_signo, info.si_code, flush=True)
"""


def test_the_timers_signal_reaches_another_process_as_a_timers_does() -> None:
    """rt_sigqueueinfo from another process with si_code SI_TIMER: the kernel takes it (only
    codes >= 0 and SI_TKILL are refused), and the receiver sees a timer's signal."""
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        timer = posix_timers.KernelTimer(3, signal.SIGUSR1, 7, "signal", False, child.pid, 1)
        assert not posix_timers.pending(child.pid, timer)
        assert posix_timers.send(child.pid, timer)
        assert child.stdout.readline().split() == [str(signal.SIGUSR1), str(posix_timers.SI_TIMER)]
    finally:
        child.kill()
        child.wait()
    assert not posix_timers.send(child.pid, timer)  # gone


def test_a_queued_timer_signal_is_seen_as_pending() -> None:
    """While the last expiry's signal is still queued (blocked), the kernel would count an
    overrun rather than queue it again."""
    child = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                              "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})\n"
                              "print('ready', flush=True)\ntime.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        timer = posix_timers.KernelTimer(0, signal.SIGUSR2, 0, "signal", False, child.pid, 1)
        assert posix_timers.send(child.pid, timer)
        assert posix_timers.pending(child.pid, timer)
    finally:
        child.kill()
        child.wait()


def test_expiries_while_the_signal_is_queued_are_counted_and_handed_over_when_taken() -> None:
    """The kernel's bookkeeping: the first expiry queues, the next ones find it queued and
    count, and timer_getoverrun reads the count only once that signal is taken; the next
    signal starts from 0."""
    overruns = posix_timers.Overruns()
    assert overruns.expired(pending=False)
    overruns.sent()
    assert not overruns.expired(pending=True) and not overruns.expired(pending=True)
    overruns.settle(pending=True)
    assert overruns.last == 0  # still queued: the last count handed over is the kernel's 0
    assert overruns.expired(pending=False)  # taken meanwhile: 2 handed over, queued anew
    assert overruns.last == 2
    overruns.sent()
    overruns.settle(pending=False)
    assert overruns.last == 0


def test_a_signal_pending_from_elsewhere_is_not_counted_against_the_timer() -> None:
    overruns = posix_timers.Overruns()
    assert not overruns.expired(pending=True)  # another sender's: nothing queued, nothing counted
    overruns.settle(pending=False)
    assert overruns.last == 0


TAKER = """
import ctypes, signal, struct, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
print("ready", flush=True)
sys.stdin.readline()
mask = (ctypes.c_uint64 * 16)(1 << (signal.SIGUSR2 - 1))
info = ctypes.create_string_buffer(128)
ctypes.CDLL(None).sigwaitinfo(mask, info)
print(*struct.unpack_from("<iiiiii", info.raw), flush=True)
"""


def test_a_blocked_timer_signal_counts_overruns_until_another_process_takes_it() -> None:
    """On a real queue: the keeper's signal stays pending in a child that blocks it, the next
    three expiries are counted, and the count is handed over once the child took it."""
    child = subprocess.Popen([sys.executable, "-c", TAKER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        timer = posix_timers.KernelTimer(5, signal.SIGUSR2, 7, "signal", False, child.pid, 1)
        overruns = posix_timers.Overruns()
        for _ in range(4):
            if overruns.expired(posix_timers.pending(child.pid, timer)):
                assert posix_timers.send(child.pid, timer)
                overruns.sent()
        overruns.settle(posix_timers.pending(child.pid, timer))
        assert overruns.last == 0
        child.stdin.write("take\n")
        child.stdin.flush()
        signo, _, code, _, timer_id, _ = map(int, child.stdout.readline().split())
        assert (signo, code, timer_id) == (signal.SIGUSR2, posix_timers.SI_TIMER, 5)
        overruns.settle(posix_timers.pending(child.pid, timer))
        assert overruns.last == 3
    finally:
        child.kill()
        child.wait()
