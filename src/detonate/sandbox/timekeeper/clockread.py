"""Clock reads answered with the sample's virtual time (real time + the skipped seconds).

The vDSO versions are patched into syscalls (vdso.py), so glibc's, musl's and Go's reads of
CLOCK_REALTIME/MONOTONIC/BOOTTIME (and _COARSE, _RAW, TAI), gettimeofday and time arrive here.
CPU-time clocks run in the kernel (CPU time is not skipped).
"""

from __future__ import annotations

import struct
import time

from detonate.sandbox.timekeeper import memory
from detonate.sandbox.timekeeper.calls import NAME
from detonate.sandbox.timekeeper.notify import Notification
from detonate.sandbox.timekeeper.waits import VIRTUAL_CLOCKS, Proceed, Reply, _s32

NS = 1_000_000_000
CLOCK_REALTIME = 0


def answer(note: Notification, offset: int) -> Proceed | Reply | None:
    """The reply to a clock read; None when `note` is not one. Raises OSError (EFAULT)."""
    call = NAME.get(note.nr, "")
    if call == "clock_gettime":
        clock = _s32(note.args[0])
        if clock not in VIRTUAL_CLOCKS:
            return Proceed()
        now = time.clock_gettime_ns(clock) + offset
        memory.write(note.pid, note.args[1], struct.pack("<qq", *divmod(now, NS)))
        return Reply()
    if call == "gettimeofday":
        now = time.clock_gettime_ns(CLOCK_REALTIME) + offset
        if note.args[0]:
            sec, ns = divmod(now, NS)
            memory.write(note.pid, note.args[0], struct.pack("<qq", sec, ns // 1000))
        if note.args[1]:
            memory.write(note.pid, note.args[1], bytes(8))  # struct timezone: UTC, no DST
        return Reply()
    if call == "time":
        seconds = (time.clock_gettime_ns(CLOCK_REALTIME) + offset) // NS
        if note.args[0]:
            memory.write(note.pid, note.args[0], struct.pack("<q", seconds))
        return Reply(val=seconds)
    return None
