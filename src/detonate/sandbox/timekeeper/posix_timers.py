"""POSIX timers (timer_create/timer_settime) as the keeper sees and fires them.

The keeper does not trap timer_create: the kernel creates the timer, and at each timer_settime
the keeper reads what it needs from /proc/PID/timers (the kernel's own record of the sigevent):

    ID: 0
    signal: 32/0000000017f228d0          signal number / sigev_value (sival_ptr)
    notify: signal/tid.4094              signal|thread|none / pid.N (process) or tid.N (thread)
    ClockID: 1

Numbers are the host's (this /proc is the host's). glibc's SIGEV_THREAD is a SIGEV_THREAD_ID
timer of the kernel aimed at glibc's helper thread, with signal 32 (SIGTIMER) and the
address of glibc's timer record as its value: the helper takes a signal whose si_code is
SI_TIMER and starts the user's function with that record's sigval.

At the virtual deadline the keeper sends the signal the kernel would: rt_sigqueueinfo (to the
process) or rt_tgsigqueueinfo (to the thread) with si_code SI_TIMER, the timer's id and value.
The kernel accepts an si_code < 0 other than SI_TKILL from another process (only kernel codes,
>= 0, and SI_TKILL are refused), so glibc's helper sees a timer's signal.

A repeating timer whose signal is still queued at its next expiry is not queued again: the
kernel counts an overrun, and timer_getoverrun reads the count handed over with the last signal
taken (`Overruns`).
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import struct
from dataclasses import dataclass

SYS_RT_SIGQUEUEINFO = 129
SYS_RT_TGSIGQUEUEINFO = 297
SI_TIMER = -2
SIGINFO_SIZE = 128
DELAYTIMER_MAX = 2**31 - 1  # the kernel caps the overrun count it reports at INT_MAX
_libc = ctypes.CDLL(None, use_errno=True)
_ENTRY = re.compile(
    r"ID: (-?\d+)\nsignal: (\d+)/([0-9a-fA-F]+)\nnotify: (\w+)/(pid|tid)\.(\d+)\nClockID: (-?\d+)"
)


@dataclass(frozen=True)
class KernelTimer:
    """One timer as /proc/PID/timers shows it."""

    id: int
    signal: int
    value: int  # sigev_value, delivered as si_value
    notify: str  # "signal", "thread" (the kernel's SIGEV_THREAD also sends a signal), "none"
    to_thread: bool  # SIGEV_THREAD_ID: `target` is a thread, not the process
    target: int  # host pid or tid
    clock: int

    @property
    def delivers(self) -> bool:
        """Whether its expiry sends anything (SIGEV_NONE timers are only read back)."""
        return self.notify != "none"


@dataclass
class Overruns:
    """A repeating timer's overrun count, kept as the kernel keeps it: an expiry whose signal is
    still queued from an earlier one is counted instead of queued, and the count is handed over
    when that signal is taken; timer_getoverrun reads the last count handed over.

        expiry at 60 s → queued (blocked); 120 s, 180 s → counted; taken → getoverrun says 2

    The keeper cannot watch a delivery: it sees the signal taken when its pending bit is gone,
    at the next expiry or timer_getoverrun (the sample calls it after taking the signal)."""

    queued: bool = False  # a signal of ours may still wait in the queue
    counting: int = 0  # expiries counted against it
    last: int = 0  # what timer_getoverrun reads

    def settle(self, pending: bool) -> None:
        """Hand the count over if our signal left the queue."""
        if self.queued and not pending:
            self.last, self.queued, self.counting = min(self.counting, DELAYTIMER_MAX), False, 0

    def expired(self, pending: bool) -> bool:
        """An expiry: True when a signal is to be queued for it; counted when ours still is.
        A signal of the same number pending from elsewhere is not ours to count against: no
        signal is queued (the queue holds one of a non-real-time signal), none counted."""
        self.settle(pending)
        if pending:
            self.counting += self.queued
            return False
        return True

    def sent(self) -> None:
        self.queued, self.counting = True, 0


def timer_id(arg: int) -> int:
    """A timer_t as the kernel takes it from a register: an int."""
    return int(ctypes.c_int32(arg & 0xFFFFFFFF).value)


def timers_of(pid: int) -> dict[int, KernelTimer]:
    """The process's POSIX timers; empty when it is gone."""
    try:
        with open(f"/proc/{pid}/timers") as listing:
            text = listing.read()
    except OSError:
        return {}
    found = (
        KernelTimer(int(m[1]), int(m[2]), int(m[3], 16), m[4], m[5] == "tid", int(m[6]), int(m[7]))
        for m in _ENTRY.finditer(text)
    )
    return {timer.id: timer for timer in found}


def find(pid: int, timer_id: int) -> KernelTimer | None:
    return timers_of(pid).get(timer_id)


def siginfo(timer: KernelTimer, overrun: int = 0) -> bytes:
    """siginfo_t of a timer's signal (x86_64): si_signo, si_errno, si_code, then the _timer
    member at 16: int si_tid (the timer's id), int si_overrun, union sigval si_value."""
    info = bytearray(SIGINFO_SIZE)
    struct.pack_into("<iiiiiiQ", info, 0, timer.signal, 0, SI_TIMER, 0, timer.id, overrun,
                     timer.value)  # fmt: skip
    return bytes(info)


def send(pid: int, timer: KernelTimer, overrun: int = 0) -> bool:
    """Queue the timer's signal to its process `pid` or its target thread; False when the
    target is gone (ESRCH) or refuses it."""
    info = ctypes.create_string_buffer(siginfo(timer, overrun), SIGINFO_SIZE)
    if timer.to_thread:
        done = _libc.syscall(SYS_RT_TGSIGQUEUEINFO, pid, timer.target, timer.signal, info)
    else:
        done = _libc.syscall(SYS_RT_SIGQUEUEINFO, pid, timer.signal, info)
    return bool(done == 0)


def pending(pid: int, timer: KernelTimer) -> bool:
    """The timer's signal is still queued at its target (the kernel then counts an overrun
    instead of queueing the signal again)."""
    where, name = (timer.target, "SigPnd") if timer.to_thread else (pid, "ShdPnd")
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open(f"/proc/{where}/status") as status:
            line = next(x for x in status if x.startswith(name + ":"))
        return bool(int(line.split()[1], 16) >> (timer.signal - 1) & 1)
    return False
