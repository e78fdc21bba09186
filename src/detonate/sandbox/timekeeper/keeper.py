"""The time keeper: a thread of the analyser that answers the sample's trapped calls.

    keeper = TimeKeeper(cgroup_dir)          # before `runc create`
    config["linux"]["seccomp"] |= keeper.seccomp_section(profile)
    runc create …                            # runc connects and hands over the notify fd
    keeper.start()                           # from now on every trapped call is answered
    … keeper.quiet_for() …                   # the run's idle stop
    keeper.close()                           # always (finally)

It keeps the virtual clock, holds timed waits and releases them (clock.py, waits.py), answers
clock reads with virtual time (clockread.py) and patches each new program's vDSO (vdso.py).
Time jumps only when every thread of the sample's cgroup is blocked, no CPU is used and the
simulated internet is not answering a request of the sample's (checked `CHECK_SECONDS` apart,
for `SETTLE_SECONDS`). A countdown's rounds (clock.py: a loop
doing nothing between its waits) jump at once when every thread sleeps and no other wait is
pending: busybox `timeout 600` is 600 rounds, each then a few milliseconds.
"""

from __future__ import annotations

import array
import contextlib
import errno
import functools
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detonate.errors import SandboxError
from detonate.sandbox.leftovers import KEEPER_DIR_PREFIX
from detonate.sandbox.timekeeper import clockread, memory, posix_timers, serving, vdso, waits
from detonate.sandbox.timekeeper.calls import AUDIT_ARCH_X86_64, NAME, notify_rules
from detonate.sandbox.timekeeper.clock import (
    NS,
    Deadline,
    Schedule,
    ShortRuns,
    VirtualClock,
    signature,
)
from detonate.sandbox.timekeeper.notify import OUR_SIZES, Notification, NotifyFd, kernel_sizes

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.025  # how often the threads' states and the cgroup's CPU time are read
SERVING_SECONDS = 1.0  # how long whether a process listens is trusted (serving.Servers)
SETTLE_SECONDS = 0.1  # all blocked, no CPU, this long: time may jump
CALM_CPU_FRACTION = 0.01  # below this share of a CPU between checks counts as no CPU
QUIET_CPU_FRACTION = 0.05  # the run's idle stop: below this share of a CPU …
QUIET_WINDOW_SECONDS = 0.5  # … over each window this long
TICK_SECONDS = 0.01  # probes of held waits are polled this often
# Sample time skipped with nothing new done (a server's background workers waking each other,
# each round the same calls) after which time stops jumping: the waits left run at real pace
# and the run can end idle. One wait longer than this, begun after something new, is still
# skipped whole; a countdown's rounds (clock.py) do not count.
HORIZON_SECONDS = 600
FAST_TRIES = 3  # a countdown's round: looks at the threads' states, FAST_PAUSE apart
FAST_PAUSE_SECONDS = 0.002
# A countdown's short rounds (10 ms each: 90,000 for 900 s) trust the last look at the
# threads' states for CHECK_SECONDS (as the calm checks do), at most this many rounds: a round
# costs little more than its answer then.
STREAK_ROUNDS = 200
ACCEPT_SECONDS = 10.0
PATCH_CALLS = frozenset({"arch_prctl", "set_tid_address", "brk"})
CLOCK_CALLS = frozenset({"clock_gettime", "gettimeofday", "time"})
POSIX_TIMER_CALLS = frozenset({"timer_gettime", "timer_getoverrun", "timer_delete"})
BLOCKED_STATES = frozenset("SDtTZXxIP")
# Asleep for good: not stopped by the tracer between two calls ("t"), not in disk I/O.
ASLEEP_STATES = frozenset("SZXxI")


@dataclass(frozen=True)
class CompressedWait:
    """One held wait or timer as it ended: `skipped_seconds` is the virtual time jumped over
    while it was held (0 when real input or real time ended it first)."""

    wall: float  # epoch time it began
    pid: int  # the process (thread group)
    tid: int
    call: str
    requested_seconds: float
    skipped_seconds: float
    sample_time: float  # seconds of sample time (real + skipped) since the keeper started
    outcome: str  # "timeout" (its time came), "input" (real input ended it), "pending"


@dataclass
class _Held:
    note: Notification
    pid: int
    hold: waits.Hold
    wall: float
    offset: int


@dataclass
class _Timer:
    pid: int
    key: int
    interval_ns: int
    requested_ns: int
    wall: float
    offset: int
    call: str  # alarm, setitimer, timerfd_settime, timer_settime
    at: int  # virtual ns of its next expiry
    our_fd: int = -1  # timerfd_settime: our duplicate of the sample's timerfd
    posix: posix_timers.KernelTimer | None = None  # timer_settime: what its expiry sends
    overruns: posix_timers.Overruns = field(default_factory=posix_timers.Overruns)

    def remaining(self, virtual_now: int) -> int:
        """Time left to its next expiry, as timer_gettime/setitimer's old value say it."""
        if self.at > virtual_now:
            return self.at - virtual_now
        if self.interval_ns:  # a SIGEV_NONE timer's periods run on unseen
            return self.interval_ns - (virtual_now - self.at) % self.interval_ns
        return 0


@dataclass
class _Rounds:
    """Rounds of one thread's countdown too short to report one by one (`usleep(10000)` 90,000
    times), added up into one wait; an effect between two rounds starts a new sum."""

    wall: float  # the first round began
    pid: int
    tid: int
    call: str
    effects: int  # the sample's effect count at the last round
    requested_ns: int = 0
    skipped_ns: int = 0
    sample_time: float = 0.0  # at the last round's end


Slot = tuple[int, str, int]  # (pid, "itimer", 0) / (pid, "timerfd", fd) / (pid, "posix", id)


@dataclass
class _Calm:
    """Whether the sample is calm (every thread blocked, no CPU) and since when."""

    cpu_ns: int = -1
    checked: float = 0.0
    calm_since: float | None = None
    quiet_since: float | None = None
    quiet_cpu: int = 0
    quiet_checked: float = 0.0
    quiet_offset: int = 0  # the clock's offset at the last look: moved since, not quiet
    stopped: frozenset[str] = frozenset()  # threads in a tracer stop at the last look
    runnable: frozenset[str] = frozenset()  # threads running or waiting for a CPU then


@dataclass
class TimeKeeper:
    cgroup_cpu_dir: Path  # /sys/fs/cgroup/cpuacct/<cgroup>: tasks and cpuacct.usage
    # grows when the sample does something new (Tracer.activity)
    activity: Callable[[], int] | None = None
    # grows when the sample writes, connects, signals … (Tracer.effects)
    effects: Callable[[], int] | None = None
    # the simulated internet has a request of the sample's unread or is at work on one
    # (NetworkHook.answering): a sample blocked on that reply is not waiting for time
    answering: Callable[[], bool] | None = None
    report_threshold_seconds: float = 1.0  # shorter waits are not reported as events
    # the CPUs the sample and its tracer are pinned to (cpu_placement): the keeper's thread
    # joins them, as each trapped call is a round trip (see _loop)
    cpus: list[int] | None = None
    clock: VirtualClock = field(default_factory=VirtualClock)
    schedule: Schedule = field(default_factory=Schedule)
    _shorts: ShortRuns = field(default_factory=ShortRuns)
    records: list[CompressedWait] = field(default_factory=list)
    trapped: Counter[str] = field(default_factory=Counter)  # call → notifications answered
    errors: list[str] = field(default_factory=list)
    _dir: Path = field(init=False)
    _server: socket.socket = field(init=False)
    _fd: NotifyFd | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _held: dict[int, _Held] = field(default_factory=dict)
    _timers: dict[Slot, _Timer] = field(default_factory=dict)
    # POSIX timers set short (≤ 10 ms) run in the kernel: until this monotonic ns (a one-shot)
    # or, when they repeat (None), until disarmed. Meanwhile a new setting is the kernel's too,
    # so its timer never runs beside the keeper's.
    _kernel_armed: dict[Slot, int | None] = field(default_factory=dict)
    _rounds: dict[tuple[int, tuple[object, ...]], _Rounds] = field(default_factory=dict)
    _vdso: dict[int, tuple[int, int]] = field(default_factory=dict)  # pid → its [vdso]
    _calm: _Calm = field(default_factory=_Calm)
    _start_wall: float = 0.0
    _activity_mark: int = -1
    _streak: tuple[float, int] = (0.0, 0)  # a short countdown's last look: (until, rounds left)
    # A countdown's round whose jump waits for a trapped call to be answered first: its
    # short_pid (0 when not a short countdown's), or None.
    _round_after_answer: int | None = None
    _activity_offset: int = 0  # the clock's offset when the tracer last saw the sample act
    _servers: serving.Servers = field(default_factory=lambda: serving.Servers(SERVING_SECONDS))
    _tgids: memory.Tgids = field(default_factory=memory.Tgids)
    _next_timer_key: int = -1

    def __post_init__(self) -> None:
        # The socket path must fit sockaddr_un (108 bytes): a short directory of its own.
        self._dir = Path(tempfile.mkdtemp(prefix=KEEPER_DIR_PREFIX))
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self._dir / "notify.sock"))
        self._server.listen(1)

    @property
    def directory(self) -> str:
        """Recorded in the run's state, so a SIGKILLed analyser's is removed by the next run."""
        return str(self._dir)

    @property
    def listener_path(self) -> str:
        return str(self._dir / "notify.sock")

    def seccomp_section(self, profile: dict[str, Any]) -> dict[str, Any]:
        """The run's seccomp profile with the keeper's traps and runc's listener added."""
        return {
            **profile,
            "listenerPath": self.listener_path,
            "syscalls": [*profile["syscalls"], *notify_rules()],
        }

    def start(self) -> None:
        """Take the notify fd runc sent during `runc create` and start answering."""
        self._server.settimeout(ACCEPT_SECONDS)
        try:
            conn, _ = self._server.accept()
        except OSError as exc:
            raise SandboxError(f"runc did not hand over the seccomp notify fd: {exc}") from exc
        with conn:
            fds = array.array("i")
            _, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16 * fds.itemsize))
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            raise SandboxError("runc connected to the time keeper but sent no notify fd")
        if kernel_sizes() != OUR_SIZES:
            raise SandboxError(f"this kernel's seccomp notification structures differ from "
                               f"the time keeper's: {kernel_sizes()} != {OUR_SIZES}")  # fmt: skip
        for extra in fds[1:]:
            os.close(extra)
        self._fd = NotifyFd(fds[0])
        self._start_wall = time.time()
        self._thread = threading.Thread(target=self._loop, name="time-keeper", daemon=True)
        self._thread.start()

    # -- what the run asks -------------------------------------------------------------------

    def offset_at(self, wall: float) -> float:
        with self._lock:
            return self.clock.offset_at(wall)

    def skipped_seconds(self) -> float:
        return self.clock.offset / NS

    def quiet_for(self) -> float:
        """Seconds the sample has been quiet: nearly no CPU, and no wait pending that time
        would end (only waits for input nothing sends, and timer loops)."""
        with self._lock:
            since = self._calm.quiet_since
        return time.monotonic() - since if since is not None else 0.0

    def close(self) -> None:
        """Stop answering; the sample must be gone or going (its held calls fail ENOSYS).
        Safe to call again."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        now = time.time()
        with self._lock:
            for key, held in self._held.items():
                if self._fd is not None and not self._fd.valid(key):
                    held.hold.probe.close()
                    continue  # its thread is gone (the process exited)
                self._record_held(held, "pending", now)
                held.hold.probe.close()
            self._held.clear()
            for rounds in list(self._rounds):
                self._flush_rounds(rounds)
            for timer in self._timers.values():
                if timer.our_fd >= 0:
                    os.close(timer.our_fd)
            self._timers.clear()
        if self._fd is not None:
            self._fd.close()
        self._server.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._fd is not None
        fd = self._fd
        if self.cpus:
            # On a virtual machine a wake-up of an idle CPU is a halt and a resume: a countdown
            # of 450,000 rounds of 2 ms ran into the 60 s timeout on a quiet machine (~750 s
            # skipped), yet reached its payload in ~52 s beside a CI run, with the keeper free
            # to run anywhere; pinned beside the sample, in ~40 s (docs/benchmarks.md).
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, self.cpus)  # this thread only
        while not self._stop.is_set():
            try:
                timeout = TICK_SECONDS if self._held or self._timers else CHECK_SECONDS
                if fd.wait_readable(timeout):
                    note = fd.receive()
                    if note is not None:
                        self._answer(fd, note)
                    self._round_after_answers(fd)
                    continue  # drain what is queued before the slower checks
                self._service(fd)
            except EOFError:
                with self._lock:
                    self._calm.quiet_since = self._calm.quiet_since or time.monotonic()
                return  # every process of the sample is gone
            except Exception as exc:  # the keeper must not die silently: the run would hang
                log.exception("time keeper")
                self.errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(TICK_SECONDS)

    def _answer(self, fd: NotifyFd, note: Notification) -> None:
        call = NAME.get(note.nr, "")
        self.trapped[call] += 1
        if note.arch != AUDIT_ARCH_X86_64:
            fd.proceed(note.id)  # i386/x32 programs are not emulated
            return
        if call in PATCH_CALLS:
            self._patch(note)
            fd.proceed(note.id)
            return
        if call in POSIX_TIMER_CALLS:
            self._posix_timer_call(fd, note, call)
            return
        try:
            if call in CLOCK_CALLS and self._from_vdso(note):
                fd.proceed(note.id)  # the vDSO's own fallback: its trampoline adds the offset
                return
            reply = clockread.answer(note, self.clock.offset)
            if reply is None:
                pid = self._tgids.of(note.pid)
                now = waits.Now(self.clock.now(time.monotonic_ns()), self.clock.offset)
                answer = waits.decode(note, pid, now)
        except OSError:
            fd.proceed(note.id)  # unreadable arguments: the kernel answers (EFAULT)
            return
        if reply is not None:
            answer = reply
        elif isinstance(answer, waits.Hold):
            if isinstance(answer.probe, waits.FutexProbe):
                answer.probe.held_past = functools.partial(self._held_past, answer.deadline)
            countdown = self._short_round(note.pid, answer)
            if answer.short and not countdown:
                answer.probe.close()
                fd.proceed(note.id)  # 10 ms or less, not a countdown's: the kernel's
                return
            self._hold(note, pid, answer, countdown)
            if self.schedule.countdown_next():
                self._countdown_round(fd, pid if countdown else 0)
            return
        elif isinstance(answer, waits.SetTimer):
            self._set_timer(fd, note, pid, answer, now)
            return
        if isinstance(answer, waits.Reply):
            fd.respond(note.id, answer.val, answer.error)
        else:
            fd.proceed(note.id)

    def _patch(self, note: Notification) -> None:
        """Patch a new program's vDSO. A process with POSIX timers whose vDSO was not patched
        yet has exec'd: the exec deleted its timers (alarms survive an exec, POSIX timers do
        not), and its new timers may reuse their ids."""
        pid = self._tgids.of(note.pid)
        slots = (*self._timers, *self._kernel_armed)
        had_timers = any(s[0] == pid and s[1] == "posix" for s in slots)
        fresh = had_timers and not vdso.patched(note.pid)
        span = vdso.patch(note.pid, self.clock.offset)
        if span is not None:
            self._vdso[pid] = span
            if fresh:
                self._forget_timers(lambda slot: slot[0] == pid and slot[1] == "posix")

    def _forget_timers(self, which: Callable[[Slot], bool]) -> None:
        with self._lock:
            for slot in [s for s in self._timers if which(s)]:
                timer = self._timers.pop(slot)
                self.schedule.remove(timer.key)
                if timer.our_fd >= 0:
                    os.close(timer.our_fd)
            self._kernel_armed = {s: u for s, u in self._kernel_armed.items() if not which(s)}

    def _posix_timer_call(self, fd: NotifyFd, note: Notification, call: str) -> None:
        """timer_gettime of a timer the keeper runs: its interval and time left in virtual
        time. timer_getoverrun: the overruns it counted (posix_timers.Overruns). timer_delete:
        the keeper's timer goes, the kernel deletes its own."""
        slot = (self._tgids.of(note.pid), "posix", posix_timers.timer_id(note.args[0]))
        if call == "timer_delete":
            self._forget_timers(lambda s: s == slot)
            fd.proceed(note.id)
            return
        with self._lock:
            timer = self._timers.get(slot)
            now = self.clock.now(time.monotonic_ns())
        if timer is None or timer.posix is None:
            # not ours (a CPU-time clock, set short, disarmed, unknown): the kernel's, which
            # never armed a timer the keeper ran and so reads 0 overruns for it
            fd.proceed(note.id)
            return
        if call == "timer_getoverrun":
            timer.overruns.settle(posix_timers.pending(timer.pid, timer.posix))
            fd.respond(note.id, timer.overruns.last)
            return
        try:
            spec = waits.itimerspec(timer.interval_ns, timer.remaining(now))
            memory.write(note.pid, note.args[1], spec)
        except OSError:
            fd.respond(note.id, error=errno.EFAULT)
            return
        fd.respond(note.id, 0)

    def _from_vdso(self, note: Notification) -> bool:
        pid = self._tgids.of(note.pid)
        span = self._vdso.get(pid) or vdso.vdso_range(pid)
        if span is None:
            return False
        self._vdso[pid] = span
        return span[0] <= note.instruction_pointer < span[1]

    def _hold(self, note: Notification, pid: int, hold: waits.Hold, countdown: bool) -> None:
        truncated = countdown and hold.in_ms and self._shorts.truncates(note.pid)
        slack = waits.MS_NS - 1 if truncated else 0  # one trapped wait a round, not two
        with self._lock:
            self._held[note.id] = _Held(note, pid, hold, time.time(), self.clock.offset)
            self.schedule.add(
                Deadline(note.id, hold.deadline, pid, signature(hold.call, hold.requested_ns),
                         hold.requested_ns, countdown=countdown, slack=slack)
            )  # fmt: skip

    def _short_round(self, tid: int, hold: waits.Hold) -> bool:
        """Whether a wait is a countdown's round (clock.ShortRuns): one of 10 ms or less, or a
        sleep of less than a second (nothing but time ends it; once a run is under way, the
        same wait again whatever else runs). Held and compressed then;
        otherwise the kernel runs a wait of 10 ms or less (an absolute one is held anyway, at
        real pace once it is a loop's) and a sub-second one is a loop's after REPEAT_LIMIT
        rounds (an event loop's tick: redis' 100 ms waits on its sockets)."""
        # asked of longer waits only: it may read /proc, and a short one's every round asks
        long = hold.requested_ns > waits.SHORT_NS
        if long and hold.requested_ns >= NS:
            self._shorts.other_wait(tid)
            return False
        effects = self.effects() if self.effects is not None else 0
        # a sub-second sleep's rounds: the same sleep again, no longer than its period
        # (clock.same_length)
        sleep: tuple[object, ...] = (hold.call, "sleep")
        if long and not hold.probe.time_only():
            # Another thread may end it. Still the run's round if it goes on the run (Node's
            # main loop runs its 8 s timer amid a worker's Atomics.wait rounds): time jumps
            # only when every thread waits, and the word stays watched.
            if not self._shorts.continues(tid, sleep, hold.requested_ns, effects):
                self._shorts.other_wait(tid)
                return False
            return self._shorts.round(tid, sleep, hold.requested_ns, effects)
        sig = sleep
        if not long:
            if self._shorts.tail(tid, sleep, effects, hold.probe.time_only):
                # the rest of the round's deadline, which its timeout in ms fell short of
                # (Go's netpoller truncates): the kernel's, and the same round still
                return False
            sig = signature(hold.call, hold.requested_ns)
        if not self._shorts.continues(tid, sig, hold.requested_ns, effects):
            round_ = (sig, hold.requested_ns, effects)
            kin = self._shorts.kin(tid) or memory.kin_of(tid)
            owner = self._shorts.adopt(tid, kin, round_, self._holds_a_wait)
            for key in [k for k in self._rounds if k[0] == owner]:
                self._rounds[(tid, key[1])] = self._rounds.pop(key)  # reported as one wait
        return self._shorts.round(tid, sig, hold.requested_ns, effects)

    def _held_past(self, deadline: int, tid: int) -> bool:
        """Thread `tid` is held in a wait that ends no sooner than `deadline` and that only
        time or its own process ends (waits.Probe.from_within)."""
        for held in self._held.values():
            if held.note.pid == tid:  # a thread is in one call at a time
                return held.hold.deadline >= deadline and held.hold.probe.from_within()
        return False

    def _holds_a_wait(self, tid: int) -> bool:
        return any(held.note.pid == tid for held in self._held.values())

    def _set_timer(
        self, fd: NotifyFd, note: Notification, pid: int, timer: waits.SetTimer, now: waits.Now
    ) -> None:
        """alarm/setitimer/timerfd_settime/timer_settime: the old timer's time left goes back
        to the caller. A POSIX timer of SIGEV_NONE is kept (for timer_gettime) but moves no
        clock: nothing is sent when it expires."""
        call = NAME[note.nr]
        slot = (pid, *timer.slot)
        if slot in self._kernel_armed:
            until = self._kernel_armed[slot]
            if until is None or time.monotonic_ns() < until:
                if timer.deadline is None and not timer.passthrough:
                    del self._kernel_armed[slot]  # the kernel disarms it now
                fd.proceed(note.id)  # the kernel's timer may still run: the kernel's setting
                return
            del self._kernel_armed[slot]  # the kernel's one-shot ran out
        with self._lock:
            old = self._timers.pop(slot, None)
            left = interval = 0
            if old is not None:
                self.schedule.remove(old.key)
                left, interval = old.remaining(now.virtual), old.interval_ns
                if old.our_fd >= 0:
                    os.close(old.our_fd)
            if timer.passthrough and timer.posix is not None:
                until = time.monotonic_ns() + timer.kernel_ns + waits.SHORT_NS
                self._kernel_armed[slot] = None if timer.interval_ns else until
            if timer.deadline is not None:
                key, self._next_timer_key = self._next_timer_key, self._next_timer_key - 1
                requested = timer.deadline - now.virtual
                self._timers[slot] = _Timer(
                    pid, key, timer.interval_ns, requested, time.time(), self.clock.offset,
                    call, timer.deadline, timer.our_fd, timer.posix,
                )  # fmt: skip
                length = timer.interval_ns or requested
                if timer.posix is None or timer.posix.delivers:
                    self.schedule.add(
                        Deadline(key, timer.deadline, pid, signature(call, length), length)
                    )
        if timer.passthrough:
            fd.proceed(note.id)
            return
        try:
            if timer.old_writes is not None:
                for address, data in timer.old_writes(left, interval):
                    memory.write(note.pid, address, data)
        except OSError:
            fd.respond(note.id, error=14)  # EFAULT, as the kernel would
            return
        if call == "alarm":
            fd.respond(note.id, (left + NS - 1) // NS)  # seconds left, rounded up
        else:
            fd.respond(note.id, 0)

    def _service(self, fd: NotifyFd) -> None:
        """Held waits whose thread is gone, whose input came, whose time came; then maybe a
        jump of the clock."""
        wall = time.time()
        for key, held in list(self._held.items()):
            if not fd.valid(key):
                self._drop(key)  # killed, or a signal interrupted it (the call restarts)
            elif held.hold.probe.ready():
                self._drop(key)
                fd.proceed(key)
                self._record_held(held, "input", wall)
        self._release_due(fd)
        if time.monotonic() - self._calm.checked >= CHECK_SECONDS:
            self._check_calm(fd)

    def _release_due(self, fd: NotifyFd) -> None:
        wall = time.time()
        with self._lock:
            due = self.schedule.due(self.clock.now(time.monotonic_ns()))
        if not due:
            return
        # Read only when a wait ran out: this runs every tick while waits are held, and the
        # count reads what the tracer wrote meanwhile (outside the lock, as it takes a while).
        effects = self.effects() if self.effects is not None else 0
        with self._lock:
            for deadline in due:
                self.schedule.note_timed_out(deadline, effects)
        for deadline in due:
            if deadline.key in self._held:
                held = self._held.pop(deadline.key)
                self._timeout(fd, held)
                if not self._add_round(held, deadline, effects, wall):
                    self._record_held(held, "timeout", wall)
            else:
                self._fire(deadline)

    def _timeout(self, fd: NotifyFd, held: _Held) -> None:
        hold = held.hold
        hold.probe.close()
        try:
            for address, data in hold.writes:
                memory.write(held.note.pid, address, data)
        except OSError:
            pass  # the kernel would have faulted too; the timeout is still the answer
        fd.respond(held.note.id, hold.on_timeout.val, hold.on_timeout.error)

    def _fire(self, deadline: Deadline) -> None:
        """A timer's time came: SIGALRM or the POSIX timer's signal to its process or thread
        (if still the sample's), or its timerfd expires; re-armed when it repeats. A timer
        whose target is gone is dropped unreported."""
        slot = next((k for k, t in self._timers.items() if t.key == deadline.key), None)
        if slot is None:
            return
        timer = self._timers[slot]
        if not self._deliver(timer):
            self._forget_timers(lambda s: s == slot)  # its target is gone: no wait ran out
            return
        self._record(timer.pid, timer.pid, timer.call, timer.requested_ns, timer.wall,
                     timer.offset, "timeout", time.time())  # fmt: skip
        if timer.interval_ns:
            with self._lock:
                timer.wall, timer.offset = time.time(), self.clock.offset
                timer.requested_ns = timer.interval_ns
                timer.at = deadline.at + timer.interval_ns
                self.schedule.add(
                    Deadline(timer.key, timer.at, timer.pid, deadline.signature,
                             timer.interval_ns)
                )  # fmt: skip
        else:
            del self._timers[slot]
            if timer.our_fd >= 0:
                os.close(timer.our_fd)

    def _deliver(self, timer: _Timer) -> bool:
        """What the kernel's timer would do at expiry; False when its target is gone: the
        process exited, or (a POSIX timer) exec'd, deleted it, or its thread exited."""
        if timer.our_fd >= 0:
            waits.expire_timerfd(timer.our_fd)
            return True
        tasks = self._tasks()
        if str(timer.pid) not in tasks:
            return False
        if timer.posix is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(timer.pid, signal.SIGALRM)
            return True
        kernel = posix_timers.find(timer.pid, timer.posix.id)
        if kernel != timer.posix or (kernel.to_thread and str(kernel.target) not in tasks):
            return False
        if not timer.overruns.expired(posix_timers.pending(timer.pid, kernel)):
            return True  # still queued from an earlier expiry: an overrun
        if not posix_timers.send(timer.pid, kernel):
            return str(timer.pid) in self._tasks()  # refused (a full queue) but alive: kept
        timer.overruns.sent()
        return True

    def _drop(self, key: int) -> None:
        held = self._held.pop(key)
        held.hold.probe.close()
        with self._lock:
            self.schedule.remove(key)

    def _add_round(self, held: _Held, deadline: Deadline, effects: int, end_wall: float) -> bool:
        """A skipped wait too short to report alone (a short countdown's round) is added to
        its thread's sum; False for any other. A round jumped past its deadline by its slack
        asked for that much more: its caller's own deadline lay there (Go asks 9 ms of 10)."""
        hold = held.hold
        skipped = self.clock.offset - held.offset
        if hold.requested_ns >= self.report_threshold_seconds * NS or skipped <= 0:
            return False
        past = self.clock.now(time.monotonic_ns()) - deadline.at
        asked = hold.requested_ns + min(deadline.slack, max(0, past))
        key = (held.note.pid, deadline.signature)
        rounds = self._rounds.get(key)
        if rounds is None or rounds.effects != effects:
            self._flush_rounds(key)
            rounds = self._rounds[key] = _Rounds(
                held.wall, held.pid, held.note.pid, hold.call, effects
            )
        rounds.requested_ns += asked
        rounds.skipped_ns += skipped
        rounds.sample_time = end_wall - self._start_wall + self.clock.offset / NS
        return True

    def _flush_rounds(self, key: tuple[int, tuple[object, ...]]) -> None:
        rounds = self._rounds.pop(key, None)
        if rounds is None or rounds.requested_ns < self.report_threshold_seconds * NS:
            return
        self.records.append(
            CompressedWait(
                rounds.wall,
                rounds.pid,
                rounds.tid,
                rounds.call,
                round(rounds.requested_ns / NS, 6),
                round(rounds.skipped_ns / NS, 6),
                round(rounds.sample_time, 6),
                "timeout",
            )
        )

    def _record_held(self, held: _Held, outcome: str, end_wall: float) -> None:
        hold = held.hold
        self._record(held.note.pid, held.pid, hold.call, hold.requested_ns, held.wall,
                     held.offset, outcome, end_wall)  # fmt: skip

    def _record(
        self,
        tid: int,
        pid: int,
        call: str,
        requested_ns: int,
        wall: float,
        offset: int,
        outcome: str,
        end_wall: float,
    ) -> None:
        requested = requested_ns / NS
        if requested < self.report_threshold_seconds:
            return
        skipped = (self.clock.offset - offset) / NS
        sample = end_wall - self._start_wall + self.clock.offset / NS
        self.records.append(
            CompressedWait(
                wall,
                pid,
                tid,
                call,
                round(requested, 6),
                round(skipped, 6),
                round(sample, 6),
                outcome,
            )
        )

    # -- calm, idle and the jump ------------------------------------------------------------

    def _tasks(self) -> list[str]:
        try:
            return (self.cgroup_cpu_dir / "tasks").read_text().split()
        except OSError:
            return []

    def _processes(self) -> list[int]:
        try:
            return [int(p) for p in (self.cgroup_cpu_dir / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def _cpu_ns(self) -> int:
        try:
            return int((self.cgroup_cpu_dir / "cpuacct.usage").read_text())
        except (OSError, ValueError):
            return 0

    def _states(self, tasks: list[str]) -> dict[str, str]:
        """Each thread's scheduler state (R, S, D, t …); threads gone meanwhile are left out."""
        states = {}
        for tid in tasks:
            try:
                with open(f"/proc/{tid}/stat") as stat:
                    states[tid] = stat.read().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
        return states

    def _all_blocked(self, tasks: list[str], states: frozenset[str] = BLOCKED_STATES) -> bool:
        return all(state in states for state in self._states(tasks).values())

    def _check_quiet(self, now: float, cpu: int, pending: bool) -> None:
        """Quiet: under QUIET_CPU_FRACTION of a CPU over each QUIET_WINDOW_SECONDS, no
        compressible wait pending and time did not jump (a server's 100 ms tick is quiet; a
        sleeper is not, nor a countdown whose rounds come and go between two looks)."""
        calm = self._calm
        moved, calm.quiet_offset = self.clock.offset != calm.quiet_offset, self.clock.offset
        if pending or moved or not calm.quiet_checked:
            calm.quiet_since, calm.quiet_cpu, calm.quiet_checked = None, cpu, now
            return
        if now - calm.quiet_checked < QUIET_WINDOW_SECONDS:
            return
        busy = cpu - calm.quiet_cpu > QUIET_CPU_FRACTION * (now - calm.quiet_checked) * NS
        if busy:
            calm.quiet_since = None
        elif calm.quiet_since is None:
            calm.quiet_since = calm.quiet_checked  # quiet since the window began
        calm.quiet_cpu, calm.quiet_checked = cpu, now

    def _forget_alarms_of_the_gone(self) -> None:
        """An alarm or interval timer ends with its process (a miner's `alarm(30)` watchdog,
        after the miner exited): its deadline is no reason to move the clock, and its expiry
        would be reported as a 30 s wait of the sample's that never was. A timerfd stays: a
        duplicate of it may be read elsewhere."""
        signalling = [slot for slot, timer in self._timers.items() if timer.our_fd < 0]
        if not signalling:
            return
        alive = set(self._processes())
        if not alive:
            return  # the sample is gone (or its cgroup unreadable): the run is ending
        with self._lock:
            for slot in signalling:
                timer = self._timers[slot]
                if timer.pid not in alive:
                    del self._timers[slot]
                    self.schedule.remove(timer.key)

    def _check_calm(self, fd: NotifyFd) -> None:
        self._forget_alarms_of_the_gone()
        now = time.monotonic()
        cpu = self._cpu_ns()
        interval = now - self._calm.checked if self._calm.checked else CHECK_SECONDS
        used = (cpu - self._calm.cpu_ns) / NS if self._calm.cpu_ns >= 0 else interval
        tasks = self._tasks()
        states = self._states(tasks)
        blocked = all(state in BLOCKED_STATES for state in states.values())
        if tasks:
            self._prune_timers(tasks)
        # Asked only of a blocked sample: a reply on its way is not a wait for time, however
        # long a busy machine keeps the services from writing it.
        in_flight = blocked and self.answering is not None and self.answering()
        calm = blocked and not in_flight and used <= CALM_CPU_FRACTION * interval
        # A thread in a tracer stop at two looks in a row waits for a tracer that is behind (a
        # busy machine), not for input: the sample is not quiet (a syscall stop lasts µs).
        stopped = frozenset(tid for tid, state in states.items() if state == "t")
        held_up, self._calm.stopped = bool(stopped & self._calm.stopped), stopped
        # Nor is a thread found runnable at two looks in a row while the cgroup used almost no
        # CPU: it waits for a CPU the machine does not give it (a gzip loop starved by other
        # work can look idle between two of its files), not for input.
        runnable = frozenset(tid for tid, state in states.items() if state == "R")
        starved, self._calm.runnable = bool(runnable & self._calm.runnable), runnable
        mark = self.activity() if self.activity is not None else 0
        with self._lock:
            if mark != self._activity_mark:
                self._activity_mark, self._activity_offset = mark, self.clock.offset
            frozen = self.clock.offset - self._activity_offset >= HORIZON_SECONDS * NS
            self._calm.cpu_ns, self._calm.checked = cpu, now
            if not calm:
                self._calm.calm_since = None
            elif self._calm.calm_since is None:
                self._calm.calm_since = now
            pending = (
                (self.schedule.has_compressible() and not frozen) or held_up or starved or in_flight
            )
            self._check_quiet(now, cpu, pending)
            target = self.schedule.next_jump()
            jump = (
                target is not None
                and not frozen
                and self._calm.calm_since is not None
                and now - self._calm.calm_since >= SETTLE_SECONDS
            )
            if jump:
                self._jump()
        if jump:
            self._after_jump(fd)

    def _prune_timers(self, tasks: list[str]) -> None:
        """Signal timers of processes that are gone (an exit deletes them) move no clock and
        keep no run from ending idle. A timerfd may live on in another process: it stays."""
        alive = set(tasks)
        self._forget_timers(lambda slot: slot[1] != "timerfd" and str(slot[0]) not in alive)

    def _jump(self) -> None:
        """Time to the next deadline (with the lock held). A countdown's round is not the
        sample doing the same again: its skipped time does not count toward the horizon,
        unless its process serves (a server's housekeeping: serving.py)."""
        deadline = self.schedule.next_deadline()
        if deadline is None:
            return
        target = self.schedule.jump_target(deadline)
        skipped = self.clock.jump_to(target, time.monotonic_ns(), time.time())
        if self.schedule.is_countdown(deadline) and not self._servers.listens(deadline.pid):
            self._activity_offset += skipped
        self._calm.calm_since = None

    def _after_jump(self, fd: NotifyFd) -> None:
        for pid in self._processes():  # their vDSO trampolines read the new offset
            vdso.set_offset(pid, self.clock.offset)
        self._release_due(fd)

    def _countdown_round(self, fd: NotifyFd, short_pid: int = 0) -> None:
        """A countdown's next round was just held and is the next jump, no other kind of wait
        due with it: jump as soon as every thread sleeps, without the settle (nothing is in
        flight that a countdown started; a wait of anything else due first or with it takes
        the ordinary way), unless the
        simulated internet is still answering another process of the sample (a miner's login
        beside busybox `timeout 20`'s rounds)."""
        with self._lock:
            if self.clock.offset - self._activity_offset >= HORIZON_SECONDS * NS:
                return
        if short_pid and self._short_streak(fd):
            with self._lock:
                self._jump()
            # the others sleep: the next look tells them
            vdso.set_offset(short_pid, self.clock.offset, self._vdso.get(short_pid))
            self._release_due(fd)
            return
        for _ in range(FAST_TRIES):
            # A thread trapped in a call this loop has not received yet also sleeps ("S"), but
            # it waits on us, not on time: a new process's first calls, a receive. Answered
            # first, then the round is tried again (Go's sysmon traps a 10 ms nanosleep beside
            # every few rounds of its 10 ms countdown: waiting it out cost each its deadline).
            if _notified(fd):
                self._round_after_answer = short_pid
                return
            if self._all_blocked(self._tasks(), ASLEEP_STATES) and not (
                self.answering is not None and self.answering()
            ):
                with self._lock:
                    self._jump()
                self._after_jump(fd)
                if short_pid:
                    self._streak = (time.monotonic() + CHECK_SECONDS, STREAK_ROUNDS)
                return
            time.sleep(FAST_PAUSE_SECONDS)

    def _round_after_answers(self, fd: NotifyFd) -> None:
        """The countdown's round put off for trapped calls, once they are all answered."""
        if self._round_after_answer is None or _notified(fd):
            return
        short_pid, self._round_after_answer = self._round_after_answer, None
        if self.schedule.countdown_next():
            self._countdown_round(fd, short_pid)

    def _short_streak(self, fd: NotifyFd) -> bool:
        """A short countdown's round may trust the last look (every thread asleep, the
        simulated internet not answering) while it is fresh and nothing new was trapped."""
        until, left = self._streak
        if left <= 0 or time.monotonic() >= until or _notified(fd):
            return False
        self._streak = (until, left - 1)
        return True


def _notified(fd: NotifyFd) -> bool:
    """A notification is waiting to be received (the filter's processes all gone counts)."""
    try:
        return fd.wait_readable(0)
    except EOFError:
        return True
