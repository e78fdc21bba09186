"""Whether the fds an event loop waits on are only its own wakers: then its timeout is a sleep.

Go parks its timers in the netpoller's `epoll_pwait`, libuv (Node) its timers in `epoll_wait`,
asyncio in `epoll_wait`, glib in `poll`. When the program has no sockets or files open, the set
holds only what the runtime made to wake itself: an eventfd, a pipe whose both ends the process
holds (the self-pipe), or a unix socket whose peer the process holds (asyncio's self-pipe is a
`socketpair()`; unixpeer.py asks the kernel for the peer). Nothing outside the process writes
to those, so the wait ends by its timeout or by the process itself — as a sleep does, and a
`time.Sleep(100 ms)` loop is a countdown like `usleep(100000)`'s. A listening socket, one
connected elsewhere, a file, a pipe whose write end another process holds (postgres'
postmaster-death pipe), a signalfd, inotify or timerfd is input from elsewhere: not a waker.
The fds are still polled while the wait is held, so a wake is not missed either way. Read
from /proc, as the keeper reads the rest.

A timed wait on a private futex is a sleep too when no other thread of the process can run
before it ends (`others_parked`: they all wait untimed on a futex, as main does in a
`join()`, or in an event loop's `epoll_wait` on its own wakers), as in Python's
`Event().wait(0.1)` in a worker thread. The word is still watched while it is held.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from detonate.sandbox.timekeeper import unixpeer
from detonate.sandbox.timekeeper.calls import FUTEX_CMD_BITS, FUTEX_WAIT, FUTEX_WAIT_BITSET

EVENTFD = "anon_inode:[eventfd]"
SYS_FUTEX = "202"  # x86_64
SYS_EPOLL_PWAIT2 = "441"
SYS_EPOLL_WAITS = frozenset({"232", "281", SYS_EPOLL_PWAIT2})  # epoll_wait, epoll_pwait, …2
PARKED_TRIES = 3
PASSING_STATES = frozenset("Rt")  # running, or in a tracer stop
GONE_STATES = frozenset("ZX")  # exited, not yet reaped
PARKED_PAUSE_SECONDS = 0.002


def own_wakers_only(tgid: int, fds: list[int]) -> bool:
    """Every fd of `fds` (the process's numbers) is an eventfd or one end of a pipe or unix
    socket pair whose other end the process holds too; False when one cannot be read (the
    process is gone). Only a pipe or a socket needs the process's other fds looked at."""
    links: dict[int, str] | None = None
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{tgid}/fd/{fd}")
        except OSError:
            return False
        if link == EVENTFD:
            continue
        if not link.startswith(("pipe:", "socket:")):
            return False  # a file, a signalfd, inotify …: input from elsewhere
        links = links if links is not None else _links(tgid)
        if links is None:
            return False
        if link.startswith("pipe:") and not _writes(tgid, links, link):
            return False  # a pipe another process writes
        if link.startswith("socket:") and not _holds_peer(tgid, links, link):
            return False  # a listener, a connection, a socket another process holds
    return True


def others_parked(tgid: int, tid: int, held_past: Callable[[int], bool] = lambda _: False) -> bool:
    """Every thread of process `tgid` but `tid` waits with no timeout on a futex (a join, an
    idle pool's worker), in an `epoll_wait` on its own wakers only (an idle event loop), or
    in a wait the keeper holds until no sooner than `tid`'s and that only the process ends
    (`held_past`: Node's main loop, waiting on its wakers for a timer 8 s away, while a
    worker waits 250 ms in `Atomics.wait`): none of them runs before `tid`'s timed wait
    ends, so none changes the word it waits on, and only time ends that wait. Read from
    /proc/<tid>/syscall (the call's number and arguments while a thread is in one); False
    when a thread cannot be read. A thread caught running, in a tracer stop or in a timed
    futex wait is looked at again, PARKED_TRIES times PARKED_PAUSE_SECONDS apart: the
    last link of a `threading.Timer` chain is still exiting (stopped by strace at its
    `munmap`, or waiting for the GIL) when the next link's wait is trapped, and V8's helper
    threads run now and then."""
    for _ in range(PARKED_TRIES):
        parked = _parked_now(tgid, tid, held_past)
        if parked is not None:
            return parked
        time.sleep(PARKED_PAUSE_SECONDS)
    return False


def _parked_now(tgid: int, tid: int, held_past: Callable[[int], bool]) -> bool | None:
    """others_parked at one look; None when only threads running, in a tracer stop or in a
    timed futex wait spoil it (they may be about to park, or exit)."""
    try:
        tids = os.listdir(f"/proc/{tgid}/task")
    except OSError:
        return False
    passing = False
    for other in tids:
        if other == str(tid) or held_past(int(other)):
            continue
        try:
            stat = Path(f"/proc/{tgid}/task/{other}/stat").read_text()
            state = stat.rpartition(")")[2].split()[0]
            fields = Path(f"/proc/{tgid}/task/{other}/syscall").read_text().split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if state in GONE_STATES:
            continue
        parked = None if state in PASSING_STATES else _parked(tgid, fields)
        if parked is None:
            passing = True
        elif not parked:
            return False
    return None if passing else True


def _parked(tgid: int, fields: list[str]) -> bool | None:
    """A thread's /proc/<tid>/syscall shows an untimed futex wait, or an untimed epoll wait on
    the process's own wakers. None for a timed futex wait: it ends by itself, and is most
    often a hand-over's (CPython's GIL: the last `threading.Timer` link waits up to 5 ms to
    take the interpreter back from the next link, then exits); looked at again."""
    if len(fields) < 5:
        return False  # running
    call, args = fields[0], [int(arg, 16) for arg in fields[1:5]]
    if call == SYS_FUTEX:
        if args[1] & FUTEX_CMD_BITS not in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
            return False
        return True if args[3] == 0 else None
    if call in SYS_EPOLL_WAITS:
        timeout = args[3]  # an int in ms (-1: none), or epoll_pwait2's timespec pointer
        untimed = timeout == 0 if call == SYS_EPOLL_PWAIT2 else timeout & 0xFFFFFFFF == 0xFFFFFFFF
        fds = epoll_set(tgid, args[0]) if untimed else None
        return fds is not None and own_wakers_only(tgid, fds)
    return False


def epoll_set(tgid: int, epfd: int) -> list[int] | None:
    """The fds in epoll instance `epfd` of the process (fdinfo's `tfd:` lines); None when it
    cannot be read."""
    try:
        text = Path(f"/proc/{tgid}/fdinfo/{epfd}").read_text()
    except OSError:
        return None
    fds: list[int] = []
    for line in text.splitlines():
        if line.startswith("tfd:"):
            fields = line.split()
            if len(fields) > 1 and fields[1].isdigit():
                fds.append(int(fields[1]))
    return fds


def _holds_peer(tgid: int, links: dict[int, str], sock: str) -> bool:
    """`sock` (`socket:[ino]`) is a unix socket whose peer the process holds as well."""
    inode = sock.removeprefix("socket:[").removesuffix("]")
    other = unixpeer.peer(tgid, int(inode)) if inode.isdigit() else None
    return other is not None and f"socket:[{other}]" in links.values()


def _writes(tgid: int, links: dict[int, str], pipe: str) -> bool:
    """The process holds the write end of `pipe` (fdinfo's `flags:` has O_WRONLY)."""
    for fd, link in links.items():
        if link != pipe:
            continue
        try:
            flags = Path(f"/proc/{tgid}/fdinfo/{fd}").read_text().split("flags:", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if int(flags, 8) & os.O_ACCMODE == os.O_WRONLY:
            return True
    return False


def _links(tgid: int) -> dict[int, str] | None:
    """What each fd of the process refers to (`pipe:[ino]`, `socket:[ino]`, a path …)."""
    try:
        names = os.listdir(f"/proc/{tgid}/fd")
    except OSError:
        return None
    links: dict[int, str] = {}
    for name in names:
        try:
            links[int(name)] = os.readlink(f"/proc/{tgid}/fd/{name}")
        except (OSError, ValueError):
            continue  # closed meanwhile
    return links
