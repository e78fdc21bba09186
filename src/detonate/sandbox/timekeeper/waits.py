"""What to do with one trapped call: answer it now, let the kernel run it, or hold it.

A held wait ends one of two ways: its virtual deadline comes (it is answered as the kernel
answers a timeout: 0 for sleeps, poll, select and epoll, -ETIMEDOUT for futex, futex_waitv and
message queues, -EAGAIN for sigtimedwait, semtimedop and a receive on a socket with SO_RCVTIMEO),
or its probe says real input has come (a watched fd or message queue is ready, a futex word
changed, a waited-for signal is pending, a semaphore allows the ops): then the
kernel re-runs the call, which returns that input at once. Clock reads are answered with the
virtual time; alarm/setitimer(ITIMER_REAL) and POSIX timers (timer_settime) become timers of
the keeper that send their signal at their virtual deadline.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from detonate.sandbox.timekeeper import ipc, memory, posix_timers, wakers
from detonate.sandbox.timekeeper.calls import (
    FUTEX_CMD_BITS,
    FUTEX_LOCK_PI,
    FUTEX_LOCK_PI2,
    FUTEX_WAIT,
    FUTEX_WAIT_BITSET,
    FUTEX_WAIT_REQUEUE_PI,
    NAME,
)
from detonate.sandbox.timekeeper.notify import Notification

NS = 1_000_000_000
MS_NS = 1_000_000
SHORT_NS = 10_000_000  # relative waits up to 10 ms run in the kernel: nothing to gain
MAX_WATCHED_FDS = 1024
TIMER_ABSTIME = 1
FUTEX_CLOCK_REALTIME = 256
FUTEX_PRIVATE_FLAG = 128  # the word is the process's own: no other process wakes it
FUTEX_TID_MASK = 0x3FFFFFFF  # a PI lock's word: its owner's tid (0: free) and two flag bits
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME = 0, 1, 7
# Clocks that show virtual time (CLOCK_PROCESS/THREAD_CPUTIME_ID, 2 and 3, are CPU time).
VIRTUAL_CLOCKS = frozenset({0, 1, 4, 5, 6, 7, 8, 9, 11})
ITIMER_REAL = 0
ALARM_BASES = {8: CLOCK_REALTIME, 9: CLOCK_BOOTTIME}  # the _ALARM clocks read as their base
SYS_TIMERFD_SETTIME = 286
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Proceed:
    """The kernel runs the call as asked."""


@dataclass(frozen=True)
class Reply:
    val: int = 0
    error: int = 0  # positive errno


class Probe:
    """Says whether real input would have ended the wait by now."""

    def ready(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def time_only(self) -> bool:
        """Nothing but the deadline (or a signal) ends the wait: a sleep. Every subclass
        watches something, an FdProbe when it has fds."""
        return type(self) is Probe

    def from_within(self) -> bool:
        """Only time or a thread of the waiter's own process ends the wait: held, the waiter
        runs no sooner than its deadline unless a thread of its process runs first."""
        return type(self) is Probe


def _nobody(tid: int) -> bool:
    return False


@dataclass
class FdProbe(Probe):
    """Our duplicates of the waited-on fds (pidfd_getfd), polled without blocking."""

    watched: list[tuple[int, int]]  # (our fd, poll events)
    poller: select.poll = field(default_factory=select.poll)
    # whether the fds are the sample's own wakers only (wakers.py), asked once if ever
    wakers_only: Callable[[], bool] | None = None
    _only_wakers: bool | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        for fd, events in self.watched:
            self.poller.register(fd, events)

    def ready(self) -> bool:
        return bool(self.poller.poll(0))

    def time_only(self) -> bool:
        """poll(NULL, 0, ms), select(0, …), or a runtime's timer on its own wakers: a sleep."""
        if not self.watched:
            return True
        if self._only_wakers is None:
            self._only_wakers = self.wakers_only is not None and self.wakers_only()
        return self._only_wakers

    def from_within(self) -> bool:
        return self.time_only()

    def close(self) -> None:
        for fd, _ in self.watched:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.watched = []


@dataclass
class FutexProbe(Probe):
    """A FUTEX_WAKE does not reach a held waiter (it is not queued in the kernel), but wakers
    change the word first (glibc condvars and semaphores, Go notes): a changed word releases
    the waiter, whose re-run call then returns EAGAIN, a wake the caller already handles."""

    tid: int
    address: int
    value: int
    # whether every other thread of the process is parked (wakers.others_parked, given
    # `held_past`), asked once
    parked: Callable[[Callable[[int], bool]], bool] | None = None
    # the threads the keeper holds in a wait that ends no sooner than this one, from within
    # (set by the keeper)
    held_past: Callable[[int], bool] = _nobody
    _parked: bool | None = field(default=None, init=False)

    def time_only(self) -> bool:
        """A private futex whose process has nothing else running (its other threads wait
        untimed: `Event().wait(0.1)` in a thread that main joins; or held until later, as
        Node's main loop beside a worker's `Atomics.wait`): only time ends the wait."""
        if self._parked is None:
            self._parked = self.parked is not None and self.parked(self.held_past)
        return self._parked

    def from_within(self) -> bool:
        return self.parked is not None  # a private futex: only its process changes the word

    def ready(self) -> bool:
        try:
            return memory.word(self.tid, self.address) != self.value
        except OSError:
            return True


@dataclass
class PiLockProbe(Probe):
    """A held FUTEX_LOCK_PI caller is not queued in the kernel, so the owner's unlock finds no
    waiter and frees the word in user space (glibc's cmpxchg, no FUTEX_UNLOCK_PI): a word whose
    owner is 0 releases the caller, whose re-run takes the lock. A robust lock's dead owner
    leaves the word ownerless as well (FUTEX_OWNER_DIED): the re-run gets EOWNERDEAD."""

    tid: int
    address: int

    def ready(self) -> bool:
        try:
            return memory.word(self.tid, self.address) & FUTEX_TID_MASK == 0
        except OSError:
            return True


@dataclass
class SignalProbe(Probe):
    """sigtimedwait's signals are blocked, so they do not interrupt the held call: watch the
    thread's and the process's pending sets instead."""

    tid: int
    tgid: int
    mask: int

    def ready(self) -> bool:
        pending = _pending(self.tid, "SigPnd") | _pending(self.tgid, "ShdPnd")
        return bool(pending & self.mask)


@dataclass
class AnyProbe(Probe):
    """Several waits in one call (futex_waitv's words): input to any of them ends it."""

    probes: list[Probe]

    def ready(self) -> bool:
        return any(probe.ready() for probe in self.probes)

    def close(self) -> None:
        for probe in self.probes:
            probe.close()


@dataclass
class SemaphoreProbe(Probe):
    """A held semtimedop is not queued on its semaphores, so another process's semop does not
    wake it: their values say when its ops would go through (read in the sample's IPC
    namespace). The kernel then re-runs the call, which succeeds at once."""

    namespace: ipc.IpcNamespace
    semid: int
    ops: tuple[ipc.SemOp, ...]

    def blocking(self) -> ipc.SemOp | None:
        values = self.namespace.semaphore_values(self.semid, {op.num for op in self.ops})
        return ipc.blocking_op(values, self.ops)

    def ready(self) -> bool:
        try:
            return self.blocking() is None
        except OSError:
            return True  # the set was removed: the kernel answers

    def close(self) -> None:
        self.namespace.close()


def _pending(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open(f"/proc/{pid}/status") as status:
            line = next(x for x in status if x.startswith(field_name + ":"))
        return int(line.split()[1], 16)
    return 0


@dataclass
class Hold:
    call: str
    requested_ns: int
    deadline: int  # virtual ns
    on_timeout: Reply
    writes: tuple[tuple[int, bytes], ...] = ()  # memory the kernel would write on a timeout
    probe: Probe = field(default_factory=Probe)
    # 10 ms or less: the kernel runs it (nothing to gain), unless it is a countdown's round
    short: bool = False
    in_ms: bool = False  # its timeout came in whole milliseconds (poll, epoll_wait)


@dataclass(frozen=True)
class SetTimer:
    """alarm/setitimer(ITIMER_REAL)/timerfd_settime/timer_settime: answered at once without
    arming the kernel's timer; at the virtual deadline the keeper sends SIGALRM or the POSIX
    timer's signal, or arms the timerfd (through its duplicate `our_fd`) to expire at once."""

    reply: Reply
    deadline: int | None  # virtual ns; None cancels
    interval_ns: int
    old_writes: Callable[[int, int], tuple[tuple[int, bytes], ...]] | None = None
    # which timer of the process: ("itimer", 0) its ITIMER_REAL, ("timerfd", fd), ("posix", id)
    slot: tuple[str, int] = ("itimer", 0)
    our_fd: int = -1
    passthrough: bool = False  # cancel ours and let the kernel run the call (short timers)
    posix: posix_timers.KernelTimer | None = None  # a POSIX timer: what its expiry sends
    kernel_ns: int = 0  # passthrough of a one-shot POSIX timer: how long the kernel's runs


Answer = Proceed | Reply | Hold | SetTimer


@dataclass(frozen=True)
class Now:
    """The clocks at the moment a call is decoded: virtual monotonic and the offset."""

    virtual: int
    offset: int

    def real(self, clock: int) -> int:
        return time.clock_gettime_ns(clock)


def decode(note: Notification, tgid: int, now: Now) -> Answer:
    """The answer to a trapped call (x86_64). Raises OSError when its memory is unreadable."""
    call = NAME.get(note.nr, "")
    handler = _HANDLERS.get(call)
    return handler(note, tgid, now) if handler else Proceed()


def _relative(call: str, ns: int, now: Now, reply: Reply, **extra: object) -> Answer:
    """A relative timeout; one of 10 ms or less is marked `short` (the keeper lets the
    kernel run it unless it is a countdown's round); none at all is the kernel's."""
    if ns <= 0:
        return Proceed()
    short = ns <= SHORT_NS
    return Hold(call, ns, now.virtual + ns, reply, short=short, **extra)  # type: ignore[arg-type]


def _absolute(call: str, at: int, clock: int, now: Now, reply: Reply, **extra: object) -> Answer:
    """An absolute deadline on `clock`, computed by the sample from its virtual clock: held
    even when short, since the kernel would wait the skipped time too."""
    deadline = at - (now.real(clock) - now.real(CLOCK_MONOTONIC))
    if deadline <= now.virtual:
        return reply
    return Hold(call, deadline - now.virtual, deadline, reply, **extra)  # type: ignore[arg-type]


def _nanosleep(note: Notification, tgid: int, now: Now) -> Answer:
    """nanosleep(const struct timespec *req, struct timespec *rem)"""
    return _relative("nanosleep", memory.timespec_ns(note.pid, note.args[0]), now, Reply())


def _clock_nanosleep(note: Notification, tgid: int, now: Now) -> Answer:
    """clock_nanosleep(clockid, flags, const struct timespec *req, struct timespec *rem)"""
    clock, flags = _s32(note.args[0]), note.args[1]
    if clock not in VIRTUAL_CLOCKS:
        return Proceed()
    ns = memory.timespec_ns(note.pid, note.args[2])
    if flags & TIMER_ABSTIME:
        return _absolute("clock_nanosleep", ns, clock, now, Reply())
    return _relative("clock_nanosleep", ns, now, Reply())


def _watch(pid: int, fds: list[tuple[int, int]]) -> FdProbe | None:
    """Duplicates of the sample's fds to poll; None when one cannot be had (then the wait
    runs in the kernel, uncompressed, rather than miss its input)."""
    watched: list[tuple[int, int]] = []
    for fd, events in fds[:MAX_WATCHED_FDS]:
        if fd < 0:
            continue
        ours = memory.duplicate_fd(pid, fd)
        if ours < 0:
            for mine, _ in watched:
                os.close(mine)
            return None
        watched.append((ours, events or select.POLLIN))
    return FdProbe(watched)


def _pollfds(note: Notification, tgid: int) -> tuple[bytes, list[tuple[int, int]]]:
    """struct pollfd { int fd; short events; short revents; }[nfds]"""
    nfds = min(note.args[1], MAX_WATCHED_FDS)
    raw = memory.read(note.pid, note.args[0], 8 * nfds) if nfds else b""
    entries = [struct.unpack_from("<ihh", raw, 8 * i) for i in range(nfds)]
    cleared = b"".join(struct.pack("<ihh", fd, ev, 0) for fd, ev, _ in entries)
    return cleared, [(fd, ev & 0xFFFF) for fd, ev, _ in entries]


def _poll_hold(note: Notification, tgid: int, now: Now, call: str, ns: int | None) -> Answer:
    if ns is None:
        return Proceed()
    cleared, fds = _pollfds(note, tgid)
    probe = _watch(tgid, fds)
    if probe is None:
        return Proceed()
    probe.wakers_only = lambda: wakers.own_wakers_only(tgid, [fd for fd, _ in fds if fd >= 0])
    answer = _relative(call, ns, now, Reply(), writes=((note.args[0], cleared),), probe=probe)
    if not isinstance(answer, Hold):
        probe.close()
    return answer


def _poll(note: Notification, tgid: int, now: Now) -> Answer:
    """poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)"""
    ms = _s32(note.args[2])
    return _in_ms(_poll_hold(note, tgid, now, "poll", ms * MS_NS if ms > 0 else None))


def _in_ms(answer: Answer) -> Answer:
    """A timeout in whole milliseconds may have been cut down from a finer deadline (Go's
    netpoller): clock.ShortRun.truncates."""
    if isinstance(answer, Hold):
        answer.in_ms = True
    return answer


def _ppoll(note: Notification, tgid: int, now: Now) -> Answer:
    """ppoll(fds, nfds, const struct timespec *tmo, const sigset_t *mask, size_t size)"""
    return _poll_hold(note, tgid, now, "ppoll", memory.timespec_ns(note.pid, note.args[2]))


def _fd_set(tid: int, address: int, nfds: int) -> list[int]:
    if not address or nfds <= 0:
        return []
    raw = memory.read(tid, address, (nfds + 63) // 64 * 8)
    bits = int.from_bytes(raw, "little")
    return [fd for fd in range(nfds) if bits >> fd & 1]


def _select_hold(note: Notification, tgid: int, now: Now, call: str, ns: int) -> Answer:
    """select(int nfds, fd_set *r, fd_set *w, fd_set *e, timeval/timespec *timeout)"""
    nfds = min(_s32(note.args[0]), MAX_WATCHED_FDS)
    fds: list[tuple[int, int]] = []
    for arg, events in ((1, select.POLLIN), (2, select.POLLOUT), (3, select.POLLPRI)):
        fds += [(fd, events) for fd in _fd_set(note.pid, note.args[arg], nfds)]
    probe = _watch(tgid, fds)
    if probe is None:
        return Proceed()
    probe.wakers_only = lambda: wakers.own_wakers_only(tgid, [fd for fd, _ in fds])
    size = max(nfds, 0) + 63 >> 6 << 3
    writes = tuple((note.args[arg], bytes(size)) for arg in (1, 2, 3) if note.args[arg] and size)
    writes += ((note.args[4], bytes(16)),)  # Linux leaves the time not slept: none
    answer = _relative(call, ns, now, Reply(), writes=writes, probe=probe)
    if not isinstance(answer, Hold):
        probe.close()
    return answer


def _select(note: Notification, tgid: int, now: Now) -> Answer:
    sec, usec = struct.unpack("<qq", memory.read(note.pid, note.args[4], 16))
    return _select_hold(note, tgid, now, "select", sec * NS + usec * 1000)


def _pselect6(note: Notification, tgid: int, now: Now) -> Answer:
    return _select_hold(note, tgid, now, "pselect6", memory.timespec_ns(note.pid, note.args[4]))


def _epoll(note: Notification, tgid: int, now: Now, call: str, ns: int | None) -> Answer:
    """An epoll fd is itself pollable: readable when one of its set is ready."""
    if ns is None:
        return Proceed()
    epfd = _s32(note.args[0])
    probe = _watch(tgid, [(epfd, select.POLLIN)])
    if probe is None:
        return Proceed()
    probe.wakers_only = lambda: _epoll_wakers_only(tgid, epfd)
    answer = _relative(call, ns, now, Reply(), probe=probe)
    if not isinstance(answer, Hold):
        probe.close()
    return answer


def _epoll_wakers_only(tgid: int, epfd: int) -> bool:
    fds = wakers.epoll_set(tgid, epfd)
    return fds is not None and wakers.own_wakers_only(tgid, fds)


def _epoll_wait(note: Notification, tgid: int, now: Now) -> Answer:
    """epoll_wait(epfd, events, maxevents, int timeout_ms) (epoll_pwait: + sigmask)"""
    ms = _s32(note.args[3])
    call = NAME[note.nr]
    return _in_ms(_epoll(note, tgid, now, call, ms * MS_NS if ms > 0 else None))


def _epoll_pwait2(note: Notification, tgid: int, now: Now) -> Answer:
    """epoll_pwait2(epfd, events, maxevents, const struct timespec *timeout, sigmask, size)"""
    return _epoll(note, tgid, now, "epoll_pwait2", memory.timespec_ns(note.pid, note.args[3]))


def _futex(note: Notification, tgid: int, now: Now) -> Answer:
    """futex(u32 *uaddr, int op, u32 val, const struct timespec *timeout, …): FUTEX_WAIT's
    timeout is relative (monotonic), FUTEX_WAIT_BITSET's absolute (monotonic, or realtime with
    FUTEX_CLOCK_REALTIME)."""
    op = note.args[1]
    if op & FUTEX_CMD_BITS in (FUTEX_LOCK_PI, FUTEX_LOCK_PI2):
        return _lock_pi(note, op, now)
    value = note.args[2] & 0xFFFFFFFF
    probe = FutexProbe(note.pid, note.args[0], value)
    if probe.ready():
        return Proceed()  # the word already changed: the kernel answers EAGAIN
    if op & FUTEX_PRIVATE_FLAG:
        probe.parked = functools.partial(wakers.others_parked, tgid, note.pid)
    ns = memory.timespec_ns(note.pid, note.args[3])
    timed_out = Reply(error=errno.ETIMEDOUT)
    if op & FUTEX_CMD_BITS in (FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI):
        # WAIT_REQUEUE_PI: a condvar wait whose waker requeues it to the PI mutex. Held, it
        # is not queued to be requeued, but the waker bumps the word first: the re-run then
        # returns EAGAIN, a spurious wake, and the caller takes the mutex itself.
        clock = CLOCK_REALTIME if op & FUTEX_CLOCK_REALTIME else CLOCK_MONOTONIC
        return _absolute("futex", ns, clock, now, timed_out, probe=probe)
    if op & FUTEX_CMD_BITS == FUTEX_WAIT:
        return _relative("futex", ns, now, timed_out, probe=probe)
    return Proceed()


def _lock_pi(note: Notification, op: int, now: Now) -> Answer:
    """futex(u32 *uaddr, FUTEX_LOCK_PI(2), 0, const struct timespec *deadline): a lock held by
    another thread (`pthread_mutex_timedlock` of a PTHREAD_PRIO_INHERIT mutex), held here until
    the word is free (PiLockProbe) or the deadline, absolute: LOCK_PI's on CLOCK_REALTIME,
    LOCK_PI2's on CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME. A free word, or one the caller
    owns itself (the kernel answers EDEADLK), is the kernel's."""
    owner = memory.word(note.pid, note.args[0]) & FUTEX_TID_MASK
    if owner == 0 or owner == memory.namespace_tid(note.pid):
        return Proceed()
    probe = PiLockProbe(note.pid, note.args[0])
    realtime = op & FUTEX_CMD_BITS == FUTEX_LOCK_PI or op & FUTEX_CLOCK_REALTIME
    clock = CLOCK_REALTIME if realtime else CLOCK_MONOTONIC
    at = memory.timespec_ns(note.pid, note.args[3])
    return _absolute("futex", at, clock, now, Reply(error=errno.ETIMEDOUT), probe=probe)


def _sigtimedwait(note: Notification, tgid: int, now: Now) -> Answer:
    """rt_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts, size)"""
    mask = struct.unpack("<Q", memory.read(note.pid, note.args[0], 8))[0]
    probe = SignalProbe(note.pid, tgid, mask)
    if probe.ready():
        return Proceed()
    ns = memory.timespec_ns(note.pid, note.args[2])
    return _relative("rt_sigtimedwait", ns, now, Reply(error=errno.EAGAIN), probe=probe)


def _receive(note: Notification, tgid: int, now: Now) -> Answer:
    """recvfrom(fd, buf, len, flags, addr, addrlen) / recvmsg(fd, msg, flags): only a blocking
    receive on a socket with SO_RCVTIMEO is a timed wait. The timeout is the socket's, read
    through our duplicate (the same socket), so the setsockopt need not be seen; a socket
    that is non-blocking, has no timeout or has data already is left to the kernel."""
    ours = memory.duplicate_fd(tgid, _s32(note.args[0]))
    if ours < 0:
        return Proceed()
    ns = _receive_timeout(ours)
    probe = FdProbe([(ours, select.POLLIN)])
    if ns is None or probe.ready():
        probe.close()
        return Proceed()
    # The kernel's answer to a receive that timed out: -1 EAGAIN (EWOULDBLOCK).
    answer = _relative(NAME[note.nr], ns, now, Reply(error=errno.EAGAIN), probe=probe)
    if not isinstance(answer, Hold):
        probe.close()
    return answer


def _receive_timeout(fd: int) -> int | None:
    """SO_RCVTIMEO of a blocking socket in ns; None when not a socket, non-blocking or 0."""
    try:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK:
            return None
        with socket.socket(fileno=os.dup(fd)) as sock:
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
    except OSError:
        return None  # not a socket (ENOTSOCK), or gone
    sec, usec = struct.unpack("<qq", raw)
    ns = sec * NS + usec * 1000
    return ns or None


def _unless_held(answer: Answer, probe: Probe) -> Answer:
    if not isinstance(answer, Hold):
        probe.close()
    return answer


def _semtimedop(note: Notification, tgid: int, now: Now) -> Answer:
    """semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *timeout):
    a relative timeout, EAGAIN when it runs out. Held while its ops would block; ops that
    would not, or would fail (IPC_NOWAIT, no such set or semaphore, bad arguments), are the
    kernel's."""
    semid, nsops = _s32(note.args[0]), note.args[2]
    ns = memory.timeout_ns(note.pid, note.args[3])
    if semid < 0 or not 0 < nsops <= ipc.SEMOPM or ns is None:
        return Proceed()
    ops = ipc.sem_ops(memory.read(note.pid, note.args[1], 6 * nsops))
    probe = SemaphoreProbe(ipc.IpcNamespace.of(note.pid), semid, ops)
    try:
        blocking = probe.blocking()
    except OSError:
        blocking = None
    if blocking is None or blocking.flags & ipc.IPC_NOWAIT:
        probe.close()
        return Proceed()
    held = _relative("semtimedop", ns, now, Reply(error=errno.EAGAIN), probe=probe)
    return _unless_held(held, probe)


def _mq_timed(note: Notification, tgid: int, now: Now) -> Answer:
    """mq_timedreceive(mqd_t, char *buf, size_t len, unsigned *prio, const struct timespec *at)
    / mq_timedsend(mqd_t, const char *msg, size_t len, unsigned prio, const struct timespec *at):
    an absolute CLOCK_REALTIME deadline, ETIMEDOUT when it comes. Held while the queue is
    empty (full); a message (room) ends it: the kernel re-runs the call."""
    call = NAME[note.nr]
    receive = call == "mq_timedreceive"
    ns = memory.timeout_ns(note.pid, note.args[4])
    if ns is None:
        return Proceed()  # EINVAL, from the kernel
    ours = memory.duplicate_fd(tgid, _s32(note.args[0]))
    if ours < 0:
        return Proceed()
    probe = FdProbe([(ours, select.POLLIN if receive else select.POLLOUT)])
    if probe.ready() or not ipc.queue_call_would_wait(ours, receive, note.args[2], note.args[3]):
        probe.close()
        return Proceed()
    held = _absolute(call, ns, CLOCK_REALTIME, now, Reply(error=errno.ETIMEDOUT), probe=probe)
    return _unless_held(held, probe)


def _futex_waitv(note: Notification, tgid: int, now: Now) -> Answer:
    """futex_waitv(struct futex_waitv *waiters, unsigned nr, unsigned flags,
    const struct timespec *timeout, clockid_t clockid): up to 128 futex words, an absolute
    deadline on CLOCK_MONOTONIC or CLOCK_REALTIME, ETIMEDOUT when it comes. A changed word
    ends it as it ends a futex wait (FutexProbe)."""
    nr, clock = note.args[1] & 0xFFFFFFFF, _s32(note.args[4])
    ns = memory.timeout_ns(note.pid, note.args[3])
    valid_call = note.args[2] & 0xFFFFFFFF == 0 and 0 < nr <= ipc.FUTEX_WAITV_MAX
    if not valid_call or clock not in (CLOCK_REALTIME, CLOCK_MONOTONIC) or ns is None:
        return Proceed()  # EINVAL, from the kernel
    words = ipc.waitv_words(memory.read(note.pid, note.args[0], 24 * nr))
    if words is None:
        return Proceed()
    probe = AnyProbe([FutexProbe(note.pid, address, value) for address, value in words])
    if probe.ready():
        return Proceed()  # a word already changed: the kernel answers EAGAIN
    return _absolute("futex_waitv", ns, clock, now, Reply(error=errno.ETIMEDOUT), probe=probe)


def _alarm(note: Notification, tgid: int, now: Now) -> Answer:
    """alarm(unsigned seconds): returns the seconds left of the previous alarm (the keeper
    fills that in), 0 cancels."""
    seconds = note.args[0] & 0xFFFFFFFF
    return SetTimer(Reply(), now.virtual + seconds * NS if seconds else None, 0)


def _setitimer(note: Notification, tgid: int, now: Now) -> Answer:
    """setitimer(int which, const struct itimerval *new, struct itimerval *old);
    struct itimerval { struct timeval it_interval; struct timeval it_value; }"""
    if _s32(note.args[0]) != ITIMER_REAL or not note.args[1]:
        return Proceed()
    isec, iusec, vsec, vusec = struct.unpack("<qqqq", memory.read(note.pid, note.args[1], 32))
    value = vsec * NS + vusec * 1000
    old = note.args[2]

    def old_writes(left_ns: int, interval_ns: int) -> tuple[tuple[int, bytes], ...]:
        if not old:
            return ()
        return ((old, struct.pack("<qqqq", *divmod(interval_ns // 1000, 1_000_000),
                                  *divmod(left_ns // 1000, 1_000_000))),)  # fmt: skip

    return SetTimer(
        Reply(), now.virtual + value if value else None, isec * NS + iusec * 1000, old_writes
    )


def _timerfd_settime(note: Notification, tgid: int, now: Now) -> Answer:
    """timerfd_settime(int fd, int flags, const struct itimerspec *new, struct itimerspec *old);
    struct itimerspec { struct timespec it_interval; struct timespec it_value; }"""
    fd = _s32(note.args[0])
    isec, insec, vsec, vnsec = struct.unpack("<qqqq", memory.read(note.pid, note.args[2], 32))
    value, interval = vsec * NS + vnsec, isec * NS + insec
    old = note.args[3]

    def old_writes(left_ns: int, interval_ns: int) -> tuple[tuple[int, bytes], ...]:
        if not old:
            return ()
        return ((old, struct.pack("<qqqq", *divmod(interval_ns, NS), *divmod(left_ns, NS))),)

    if value == 0:
        return SetTimer(Reply(), None, 0, old_writes, slot=("timerfd", fd))
    if note.args[1] & TIMER_ABSTIME:
        clock = _timerfd_clock(tgid, fd)
        deadline = value - (now.real(clock) - now.real(CLOCK_MONOTONIC))
    else:
        deadline = now.virtual + value
    if 0 < interval <= SHORT_NS or (not interval and deadline - now.virtual <= SHORT_NS):
        return SetTimer(Reply(), None, 0, slot=("timerfd", fd), passthrough=True)
    ours = memory.duplicate_fd(tgid, fd)
    if ours < 0:
        return Proceed()
    return SetTimer(Reply(), deadline, interval, old_writes, slot=("timerfd", fd), our_fd=ours)


def _timer_settime(note: Notification, tgid: int, now: Now) -> Answer:
    """timer_settime(timer_t id, int flags, const struct itimerspec *new, struct itimerspec *old)
    of a POSIX timer; what its expiry sends is read from /proc/PID/timers. Timers of a CPU-time
    clock, unknown ids and malformed values are the kernel's (it counts CPU time, or fails)."""
    timer_id = posix_timers.timer_id(note.args[0])
    kernel = posix_timers.find(tgid, timer_id)
    if kernel is None or kernel.clock not in VIRTUAL_CLOCKS:
        return Proceed()
    isec, insec, vsec, vnsec = struct.unpack("<qqqq", memory.read(note.pid, note.args[2], 32))
    if min(isec, insec, vsec, vnsec) < 0 or max(insec, vnsec) >= NS:
        return Proceed()  # EINVAL, from the kernel
    value, interval = vsec * NS + vnsec, isec * NS + insec
    old = note.args[3]
    slot = ("posix", timer_id)

    def old_writes(left_ns: int, interval_ns: int) -> tuple[tuple[int, bytes], ...]:
        return ((old, itimerspec(interval_ns, left_ns)),) if old else ()

    if value == 0:
        return SetTimer(Reply(), None, 0, old_writes, slot=slot, posix=kernel)
    if note.args[1] & TIMER_ABSTIME:
        # the sample read its virtual clock: the kernel would wait the skipped time too, so an
        # absolute timer is the keeper's however short
        clock = ALARM_BASES.get(kernel.clock, kernel.clock)
        deadline = value - (now.real(clock) - now.real(CLOCK_MONOTONIC))
    elif value <= SHORT_NS and interval <= SHORT_NS:
        # nothing to gain: the kernel runs it (until disarmed, if it repeats)
        return SetTimer(Reply(), None, interval, slot=slot, passthrough=True, posix=kernel,
                        kernel_ns=value)  # fmt: skip
    else:
        deadline = now.virtual + value
    return SetTimer(Reply(), deadline, interval, old_writes, slot=slot, posix=kernel)


def itimerspec(interval_ns: int, left_ns: int) -> bytes:
    """struct itimerspec { struct timespec it_interval; struct timespec it_value; }"""
    return struct.pack("<qqqq", *divmod(interval_ns, NS), *divmod(left_ns, NS))


def _timerfd_clock(pid: int, fd: int) -> int:
    """/proc/PID/fdinfo/FD of a timerfd: `clockid: 1`."""
    with (
        contextlib.suppress(OSError, ValueError, StopIteration),
        open(f"/proc/{pid}/fdinfo/{fd}") as info,
    ):
        return int(next(x for x in info if x.startswith("clockid:")).split()[1])
    return CLOCK_MONOTONIC


def expire_timerfd(fd: int) -> None:
    """Make the timerfd behind our duplicate expire now (1 ns from now, once)."""
    spec = (ctypes.c_int64 * 4)(0, 0, 0, 1)
    _libc.syscall(SYS_TIMERFD_SETTIME, fd, 0, ctypes.byref(spec), None)


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


_HANDLERS: dict[str, Callable[[Notification, int, Now], Answer]] = {
    "nanosleep": _nanosleep,
    "clock_nanosleep": _clock_nanosleep,
    "poll": _poll,
    "ppoll": _ppoll,
    "select": _select,
    "pselect6": _pselect6,
    "epoll_wait": _epoll_wait,
    "epoll_pwait": _epoll_wait,
    "epoll_pwait2": _epoll_pwait2,
    "futex": _futex,
    "rt_sigtimedwait": _sigtimedwait,
    "recvfrom": _receive,
    "recvmsg": _receive,
    "semtimedop": _semtimedop,
    "mq_timedreceive": _mq_timed,
    "mq_timedsend": _mq_timed,
    "futex_waitv": _futex_waitv,
    "alarm": _alarm,
    "setitimer": _setitimer,
    "timerfd_settime": _timerfd_settime,
    "timer_settime": _timer_settime,
}
