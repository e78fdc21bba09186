"""Whether the fds an event loop waits on are only its own wakers: then its timeout is a sleep.

Go parks its timers in the netpoller's `epoll_pwait`, libuv (Node) its timers in `epoll_wait`,
glib in `poll`. When the program has no sockets or files open, the set holds only what the
runtime made to wake itself: an eventfd, or a pipe whose both ends the process holds (the
self-pipe). Nothing outside the process writes to those, so the wait ends by its timeout or
by the process itself — as a sleep does, and a `time.Sleep(100 ms)` loop is a countdown like
`usleep(100000)`'s. A listening or connected socket, a file, a pipe whose write end another
process holds (postgres' postmaster-death pipe), a signalfd, inotify or timerfd is input from
elsewhere: not a waker. The fds are still polled while the wait is held, so a wake is not
missed either way. Read from /proc, as the keeper reads the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

EVENTFD = "anon_inode:[eventfd]"


def own_wakers_only(tgid: int, fds: list[int]) -> bool:
    """Every fd of `fds` (the process's numbers) is an eventfd or one end of a pipe whose
    other end the process holds too; False when one cannot be read (the process is gone).
    Only a pipe needs the process's other fds looked at."""
    links: dict[int, str] | None = None
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{tgid}/fd/{fd}")
        except OSError:
            return False
        if link == EVENTFD:
            continue
        if not link.startswith("pipe:"):
            return False  # a file, a socket, a signalfd …: input from elsewhere
        links = links if links is not None else _links(tgid)
        if links is None or not _writes(tgid, links, link):
            return False  # a pipe another process writes
    return True


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
