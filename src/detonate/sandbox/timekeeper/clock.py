"""The sample's virtual clock and the discrete-event schedule of its held waits (pure).

Virtual time = real CLOCK_MONOTONIC + `offset` (every second skipped so far). The offset grows
only by `jump_to`, which the keeper calls when every thread of the sample is blocked: then time
moves to the earliest deadline among the held waits and timers, and only what is due then is
released. Waits whose deadline real time reaches are due as well (a 50 ms wait is not skipped,
it just passes).

A wait that comes back again and again with the same call and length is a loop. What the
sample does between its rounds tells two kinds apart:

- periodic work (a health loop's `sleep 5; echo ok > /tmp/health`, a beacon's `sleep 60` between
  requests, a runtime's housekeeping): most rounds are followed by an effect in the trace (a
  file written, created or removed, a connect or send, a signal). Once it ran out
  `REPEAT_LIMIT` times — enough to see its rhythm in sample time — and `LOOP_SAMPLE_SECONDS`
  in all, it waits at real pace: it no longer moves the clock, and it does not keep the run
  from ending idle.
- a countdown (`while [ $i -lt 120 ]; do sleep 5; …`, busybox `timeout 600` sleeping 1 s 600
  times and probing its child with `kill(pid, 0)`): rounds with nothing but the wait (and
  starting the program that waits). It is compressed for `COUNTDOWN_SAMPLE_SECONDS` of sample
  time in all, as one long sleep would be: the payload after it runs. After that budget it
  too runs at real pace (a keep-alive `while :; do sleep 1; done` must not be compressed
  forever).

Sub-second ticks (redis' 100 ms) are loops after `REPEAT_LIMIT` rounds whatever they do.

Waits of 10 ms or less are the kernel's (nothing to gain holding one), except a countdown made
of them (`usleep(10000)` 90,000 times, Python's `time.sleep(0.01)` in a loop): a thread whose
short waits come back to back, the same call, with no effect between them (`ShortRuns`). After
`REPEAT_LIMIT` such rounds its rounds are held and compressed, within the countdown budget of
sample time. Back to back, per thread, tells it from an event loop's tick: redis' 100 ms waits
have no effects either, but the short timeouts to its next timer come between its long ones.
A round may come from a new thread or process that follows the last one (`ShortRuns.adopt`):
a shell's `sleep 0.2` is a new process each round, a `threading.Timer` chain a new thread.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

NS = 1_000_000_000
MS_NS = 1_000_000
REPEAT_LIMIT = 5
LOOP_SAMPLE_SECONDS = 60
COUNTDOWN_SAMPLE_SECONDS = 3600
SAME_LENGTH_NS = 10_000_000
MAX_RUNS = 4096


def same_length(period_ns: int, length_ns: int) -> bool:
    """A countdown's round is no longer than its period (its longest round so far) by more
    than 10 ms or a quarter of it, and may be any shorter: what is left of a deadline stepped
    by the period is the period less the time the loop took to come back, which a busy
    machine stretches without bound (a Go ticker's 200 ms rounds came to 60 ms under load)."""
    return length_ns - period_ns <= max(SAME_LENGTH_NS, period_ns // 4)


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
    countdown: bool = False  # a round of a countdown of short waits (ShortRuns)
    # how far past `at` the caller's own deadline may lie (a countdown that truncates its
    # timeouts to whole milliseconds: ShortRun.truncates): a jump may go that far when nothing
    # else is due before
    slack: int = 0


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
class Loop:
    """How often one wait signature ran out, and whether the sample acted between rounds."""

    rounds: int = 0
    measured: int = 0  # rounds with a round before them (an interval to judge)
    busy: int = 0  # … of which the sample did something with an effect in that interval
    effects_mark: int = -1  # the effect count when it last ran out

    def is_work(self) -> bool:
        return self.measured > 0 and 2 * self.busy >= self.measured


@dataclass
class Schedule:
    """Held waits and timers by key, with how often each wait signature was compressed."""

    pending: dict[int, Deadline] = field(default_factory=dict)
    loops: dict[tuple[object, ...], Loop] = field(default_factory=dict)

    def add(self, deadline: Deadline) -> Deadline:
        """Record a wait; one that is a timer loop's is not compressible."""
        if not deadline.countdown and self.is_loop(deadline):
            deadline = dataclasses.replace(deadline, compressible=False)
        self.pending[deadline.key] = deadline
        return deadline

    def is_loop(self, deadline: Deadline) -> bool:
        loop = self.loops.get(deadline.signature) if deadline.signature else None
        if loop is None or loop.rounds < REPEAT_LIMIT:
            return False
        if deadline.length < NS:
            return True
        budget = LOOP_SAMPLE_SECONDS if loop.is_work() else COUNTDOWN_SAMPLE_SECONDS
        return loop.rounds * deadline.length >= budget * NS

    def is_countdown(self, deadline: Deadline) -> bool:
        """A compressible wait of a loop that does nothing between its rounds."""
        if deadline.countdown:
            return deadline.compressible
        loop = self.loops.get(deadline.signature) if deadline.signature else None
        return (
            deadline.compressible
            and loop is not None
            and loop.rounds >= REPEAT_LIMIT
            and not loop.is_work()
        )

    def remove(self, key: int) -> Deadline | None:
        return self.pending.pop(key, None)

    def next_jump(self) -> int | None:
        """The earliest deadline of a compressible wait: where time moves when all are idle."""
        deadline = self.next_deadline()
        return deadline.at if deadline is not None else None

    def next_deadline(self) -> Deadline | None:
        """The compressible wait `next_jump` moves time to."""
        waits = [d for d in self.pending.values() if d.compressible]
        return min(waits, key=lambda d: d.at) if waits else None

    def jump_target(self, deadline: Deadline) -> int:
        """Where a jump to `deadline` moves time: past it by its slack, as a kernel may
        oversleep, but never past another wait or timer."""
        others = (d.at for d in self.pending.values() if d.key != deadline.key)
        return min([deadline.at + deadline.slack, *(at for at in others if at >= deadline.at)])

    def countdown_next(self) -> bool:
        """The next jump is to a countdown's round and no other kind of wait is due with it
        (at or before it): a poll loop's rounds beside a later long wait (`sleep 600 && touch
        go & until [ -f go ]; do sleep 1; done`) jump like a countdown alone; the later wait
        is reached by their jumps."""
        deadline = self.next_deadline()
        if deadline is None or not self.is_countdown(deadline):
            return False
        return all(
            self.is_countdown(d)
            for d in self.pending.values()
            if d.compressible and d.at <= deadline.at
        )

    def due(self, virtual_now: int) -> list[Deadline]:
        """Waits whose deadline has come, earliest first, removed from the schedule."""
        due = sorted((d for d in self.pending.values() if d.at <= virtual_now), key=lambda d: d.at)
        for d in due:
            del self.pending[d.key]
        return due

    def note_timed_out(self, deadline: Deadline, effects: int = 0) -> None:
        """A wait ran out (by a jump or by real time): one more round of its loop, if any.
        `effects` counts the sample's effects so far (it grows when the sample writes,
        connects, signals …): grown since the round before, that interval was busy."""
        if not deadline.signature:
            return
        loop = self.loops.setdefault(deadline.signature, Loop())
        loop.rounds += 1
        if loop.effects_mark >= 0:
            loop.measured += 1
            loop.busy += effects > loop.effects_mark
        loop.effects_mark = effects

    def has_compressible(self) -> bool:
        return any(d.compressible for d in self.pending.values())


@dataclass
class ShortRun:
    """One thread's short waits back to back: the same signature, no effect between them."""

    signature: tuple[object, ...]
    effects: int  # the sample's effect count at its last round
    length_ns: int  # its period, the longest round so far (same_length)
    rounds: int = 0
    held_ns: int = 0  # the lengths of the rounds held so far (the budget)
    tailed: bool = False  # its last round's rest came as a short wait (ShortRuns.tail)
    last_ns: int = 0  # the length of its last round
    # a round of exactly 1 ms came right after a longer one: the caller cut its deadline down
    # to whole milliseconds and waits the rest apart (Go's netpoller asks `epoll_pwait` for
    # 9 ms of a timer 9.97 ms away, then for 1 ms): its rounds in ms get Deadline.slack
    truncates: bool = False
    kin: tuple[int, int] = (0, 0)  # (process, parent process) of its thread (ShortRuns.adopt)

    def goes_on(self, signature: tuple[object, ...], length: int, effects: int) -> bool:
        """A round of this call and length, with `effects` so far, is this run's next."""
        return (
            self.signature == signature
            and self.effects == effects
            and same_length(self.length_ns, length)
        )


@dataclass
class ShortRuns:
    """Per thread, the run of short waits (10 ms or less) it is in, if any."""

    runs: dict[int, ShortRun] = field(default_factory=dict)  # by thread (negated: left)

    def continues(self, tid: int, signature: tuple[object, ...], length: int, effects: int) -> bool:
        """Thread `tid`'s round (signature, length, effects) goes on the run it is in."""
        run = self.runs.get(tid)
        return run is not None and run.goes_on(signature, length, effects)

    def kin(self, tid: int) -> tuple[int, int] | None:
        """(process, parent process) of thread `tid` as its run knows them, if it has one."""
        run = self.runs.get(tid)
        return run.kin if run is not None and run.kin[0] else None

    def adopt(
        self,
        tid: int,
        kin: tuple[int, int],
        round_: tuple[tuple[object, ...], int, int],
        waiting: Callable[[int], bool],
    ) -> int:
        """Thread `tid`, whose round (signature, length, effects) goes on no run of its own,
        takes over the latest run of its kin that the round goes on and whose thread is not
        waiting now: another thread of its process (each link of a `threading.Timer` chain
        waits in a thread of its own) or another child of its parent (a shell's `sleep 0.2`
        is a new process each round). Another wait of a kin thread leaves the run alone (Go's
        sysmon beside its countdown). The run `tid` leaves is kept under its negated id (the
        longer of the two, when it left one before), for kin to take over as from a thread
        gone: the last link of a Timer chain waits up to 5 ms for the GIL after starting the
        next link, often before that link's wait is trapped. Without one to take over, `tid`
        starts one of its own. Returns the thread it took over from (0: none)."""
        left = self.runs.pop(tid, None)
        kept = self.runs.get(-tid)
        if left is not None and left.rounds and (kept is None or left.rounds >= kept.rounds):
            self.runs.pop(-tid, None)
            self.runs[-tid] = left
        signature, length, effects = round_
        for owner in reversed(self.runs):
            run = self.runs[owner]
            related = run.kin[0] == kin[0] or (kin[1] > 1 and run.kin[1] == kin[1])
            goes_on = run.rounds and run.goes_on(signature, length, effects)
            if related and goes_on and owner != tid and not waiting(owner):
                del self.runs[owner]
                run.kin = kin
                self.runs[tid] = run
                return abs(owner)
        self.runs[tid] = ShortRun((), 0, 0, kin=kin)
        return 0

    def round(self, tid: int, signature: tuple[object, ...], length: int, effects: int) -> bool:
        """One more short wait of thread `tid`; True when it is a countdown's round to hold:
        the run is REPEAT_LIMIT rounds long and has COUNTDOWN_SAMPLE_SECONDS left."""
        run = self.runs.get(tid)
        if run is None or not run.goes_on(signature, length, effects):
            kin = run.kin if run is not None else (0, 0)
            run = self.runs[tid] = ShortRun(signature, effects, length, kin=kin)
            if len(self.runs) > MAX_RUNS:  # threads and processes long gone
                del self.runs[next(iter(self.runs))]
        run.truncates |= length == MS_NS < run.last_ns
        run.length_ns = max(run.length_ns, length)
        run.last_ns = length
        run.rounds += 1
        run.tailed = False
        if run.rounds <= REPEAT_LIMIT or run.held_ns >= COUNTDOWN_SAMPLE_SECONDS * NS:
            return False
        run.held_ns += length
        return True

    def truncates(self, tid: int) -> bool:
        """Thread `tid`'s run cuts its deadlines to whole milliseconds (ShortRun.truncates)."""
        run = self.runs.get(tid)
        return run is not None and run.truncates

    def tail(
        self, tid: int, signature: tuple[object, ...], effects: int, time_only: Callable[[], bool]
    ) -> bool:
        """A short wait of thread `tid` is the rest of its last round of `signature` (one per
        round, nothing took effect since, `time_only()` says nothing but time ends it): the run
        goes on without counting it. A second short wait in a row is a wait of its own.
        `time_only` is asked last: it may read /proc, and most short waits are no run's."""
        run = self.runs.get(tid)
        if run is None or run.signature != signature or run.effects != effects or run.tailed:
            return False
        if not time_only():
            return False
        run.tailed = True
        return True

    def other_wait(self, tid: int) -> None:
        """Thread `tid` waits in another way: its run of short waits, if any, is over."""
        self.runs.pop(tid, None)
