"""The sample's virtual clock and the discrete-event schedule of its held waits (pure).

Virtual time = real CLOCK_MONOTONIC + `offset` (every second skipped so far). The offset grows
only by `jump_to`, which the keeper calls when every thread of the sample is blocked: then time
moves to the earliest deadline among the held waits and timers, and only what is due then is
released. Waits whose deadline real time reaches are due as well (a 50 ms wait is not skipped,
it just passes).

A wait that comes back again and again with the same call and length is a timer loop (a
health loop's `sleep 5`, each in a new process; a runtime's 60 s housekeeping futex; redis'
100 ms tick; sub-second waits of one call count as one length): once it ran out
`REPEAT_LIMIT` times — enough to see a beacon's rhythm in sample time — and
`LOOP_SAMPLE_SECONDS` in all (sub-second ticks: at once), it waits at real pace: it no longer
moves the clock, and it does not keep the run from ending idle. A delay built of short sleeps
(busybox `timeout 600` sleeps 1 s 600 times) is thus compressed for its first minute of sample
time only.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import Counter
from dataclasses import dataclass, field

NS = 1_000_000_000
REPEAT_LIMIT = 5
LOOP_SAMPLE_SECONDS = 60


def signature(call: str, length_ns: int) -> tuple[object, ...]:
    """What makes two waits "the same wait again": the call and its length to 0.1 s, all
    sub-second lengths of a call alike (an event loop's timeouts to its next timer vary)."""
    return (call, round(length_ns / (NS // 10)) if length_ns >= NS else 0)


@dataclass(frozen=True)
class Deadline:
    """A held wait or a timer: `key` names it to the keeper; `at` is virtual ns."""

    key: int
    at: int
    pid: int  # the process (thread group) it belongs to
    signature: tuple[object, ...] = ()  # what makes two waits "the same wait again"
    length: int = 0  # ns asked for (of a repeating timer: its period)
    compressible: bool = True


@dataclass
class VirtualClock:
    offset: int = 0  # ns skipped so far
    jumps: list[tuple[float, int]] = field(default_factory=list)  # (wall epoch, offset after)

    def now(self, real_monotonic_ns: int) -> int:
        return real_monotonic_ns + self.offset

    def jump_to(self, virtual_ns: int, real_monotonic_ns: int, wall: float) -> int:
        """Move virtual time forward to `virtual_ns` (never back); returns the ns skipped."""
        skipped = max(0, virtual_ns - self.now(real_monotonic_ns))
        if skipped:
            self.offset += skipped
            self.jumps.append((wall, self.offset))
        return skipped

    def offset_at(self, wall: float) -> float:
        """Seconds skipped before wall-clock time `wall` (to give events their sample time)."""
        walls = [w for w, _ in self.jumps]
        i = bisect.bisect_right(walls, wall)
        return self.jumps[i - 1][1] / NS if i else 0.0


@dataclass
class Schedule:
    """Held waits and timers by key, with how often each wait signature was compressed."""

    pending: dict[int, Deadline] = field(default_factory=dict)
    compressed: Counter[tuple[object, ...]] = field(default_factory=Counter)

    def add(self, deadline: Deadline) -> Deadline:
        """Record a wait; one that is a timer loop's is not compressible."""
        if self.is_loop(deadline):
            deadline = dataclasses.replace(deadline, compressible=False)
        self.pending[deadline.key] = deadline
        return deadline

    def is_loop(self, deadline: Deadline) -> bool:
        count = self.compressed[deadline.signature] if deadline.signature else 0
        if count < REPEAT_LIMIT:
            return False
        return deadline.length < NS or count * deadline.length >= LOOP_SAMPLE_SECONDS * NS

    def remove(self, key: int) -> Deadline | None:
        return self.pending.pop(key, None)

    def next_jump(self) -> int | None:
        """The earliest deadline of a compressible wait: where time moves when all are idle."""
        ats = [d.at for d in self.pending.values() if d.compressible]
        return min(ats) if ats else None

    def due(self, virtual_now: int) -> list[Deadline]:
        """Waits whose deadline has come, earliest first, removed from the schedule."""
        due = sorted((d for d in self.pending.values() if d.at <= virtual_now), key=lambda d: d.at)
        for d in due:
            del self.pending[d.key]
        return due

    def note_timed_out(self, deadline: Deadline) -> None:
        """A wait ran out (by a jump or by real time): one more round of its loop, if any."""
        if deadline.signature:
            self.compressed[deadline.signature] += 1

    def has_compressible(self) -> bool:
        return any(d.compressible for d in self.pending.values())
