"""Whether a process of the sample serves: it holds a TCP socket that listens.

A server's housekeeping looks like a countdown: memcached's clock ticks every second in its
event loop and its LRU maintainer and logger sleep 1 s rounds, with no effect between them. A
countdown's rounds are exempt from the keeper's horizon (a delay may be made of thousands of
them); a server's are not, or an idle cache would have its clock moved an hour, round by round,
before its run could end idle. Read from /proc, as the keeper reads the rest.

Reading /proc/net/tcp walks the kernel's whole connection table (milliseconds on a large
machine), and a shell's countdown is a new process each round: `Servers` reads a namespace's
listening sockets at most once a `fresh_seconds`, and each process's fds as often.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from detonate.sandbox.timekeeper import bounded

LISTEN = "0A"  # /proc/net/tcp's `st` of a listening socket
TABLES = ("tcp", "tcp6")


MAX_REMEMBERED = 4096  # processes whose answer is kept (most are a countdown's, long gone)


@dataclass
class Servers:
    """`listens`, each answer trusted for `fresh_seconds`: per process, and per network
    namespace for its listening sockets."""

    fresh_seconds: float
    _processes: dict[int, tuple[float, bool]] = field(default_factory=dict)
    _namespaces: dict[str, tuple[float, set[str]]] = field(default_factory=dict)

    def listens(self, pid: int) -> bool:
        now = time.monotonic()
        checked, serves = self._processes.get(pid, (-self.fresh_seconds, False))
        if now - checked < self.fresh_seconds:
            return serves
        serves = listens(pid, self._listening(pid, now))
        bounded.remember(self._processes, pid, (now, serves), MAX_REMEMBERED)
        return serves

    def _listening(self, pid: int, now: float) -> set[str]:
        try:
            namespace = os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            return set()  # gone
        checked, inodes = self._namespaces.get(namespace, (-self.fresh_seconds, set()))
        if now - checked >= self.fresh_seconds:
            inodes = _listening_inodes(pid)
            self._namespaces[namespace] = (now, inodes)
        return inodes


def listens(pid: int, listening: set[str] | None = None) -> bool:
    """Process `pid` has a listening TCP socket among its fds; False once it is gone.
    `listening`: the inodes of its namespace's listening sockets, when known."""
    if listening is None:
        listening = _listening_inodes(pid)
    if not listening:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:[") and link[8:-1] in listening:
            return True
    return False


def _listening_inodes(pid: int) -> set[str]:
    """The inodes of the listening sockets of the process's network namespace."""
    inodes: set[str] = set()
    for table in TABLES:
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6 in the namespace, or the process is gone
        for line in lines:
            # sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes
