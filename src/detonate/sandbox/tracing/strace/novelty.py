"""Whether the sample did anything new: the growing trace, read while the run goes on.

The time keeper stops moving the clock once the sample has spent HORIZON of its own time
doing only what it did before (a database's background workers waking each other, each round
the same calls). A line is new when, with its numbers (pids, timestamps, fds, sizes, inodes)
blanked out, it was not seen before:

    4711 1795818285.666156 openat(AT_FDCWD</>, "/var/lib/pg/base/5/1259", O_RDWR) = 7</…>
    → # #.# openat(AT_FDCWD</>, "/var/lib/pg/base/#/#", O_RDWR) = #</…>

It also counts the sample's effects (new or not): a file opened for writing (not /dev/null or
its own stdio), created, renamed or removed, a connect, bind or send, a signal sent to a
process. The time keeper tells a health loop (an effect every round) from a countdown (rounds
of nothing but the wait) by them. A `kill(pid, 0)` probes, it does not act (busybox `timeout`
probes its child each second); a signal to a thread (`tkill`, `tgkill`: `pthread_kill`,
`raise`, Go's preemption) stays within its process (a heartbeat thread that interrupts
main's sleep); writes to an fd already open are not counted (a countdown's "still waiting"
log line is not work).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from detonate.sandbox.tracing.strace.calls import OPEN_CALLS, SIGNAL_CALLS

READ_CAP_BYTES = 4 * 1024 * 1024  # more new trace than this per look counts as new, unread
MAX_SHAPES = 200_000  # distinct shapes remembered; beyond, every line counts as new
_NUMBERS = re.compile(r"\d+")
_CALL = re.compile(r"^\d+ +\d+\.\d+ (\w+)\((.*)")
_WRITE_OPEN = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
# Written to without changing anything: a redirect to /dev/null, the terminal, its own stdio.
_NOWHERE = re.compile(r'"(/dev/(null|tty|stdout|stderr|fd/\d+)|/proc/self/fd/\d+)"')
_SIGNAL_ZERO = re.compile(r"[^)]*, 0\)")
_EFFECTS = frozenset(
    {
        "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2", "chmod", "fchmod",
        "fchmodat", "mkdir", "mkdirat", "symlink", "symlinkat", "link", "linkat", "mknod",
        "mknodat", "connect", "bind", "listen", "sendto", "sendmsg", "sendmmsg",
    }
)  # fmt: skip


def is_effect(line: str) -> bool:
    """Whether a trace line is the sample changing something outside its own processes."""
    match = _CALL.match(line)
    if match is None:
        return False
    call, args = match.groups()
    if call in OPEN_CALLS:
        if _NOWHERE.search(args):
            return False
        return call == "creat" or _WRITE_OPEN.search(args) is not None
    if call in SIGNAL_CALLS:
        return call == "kill" and _SIGNAL_ZERO.match(args) is None
    return call in _EFFECTS


@dataclass
class TraceNovelty:
    path: Path
    offset: int = 0
    partial: bytes = b""
    novel: int = 0  # lines unlike any before, so far
    effects: int = 0  # lines that are effects (is_effect), so far
    shapes: set[str] = field(default_factory=set)
    # the run's idle check and the time keeper's thread both read: one at a time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self) -> int:
        """Read what the tracer appended; the count of new-looking lines so far."""
        with self._lock:
            return self._read()

    def _read(self) -> int:
        try:
            if os.stat(self.path).st_size == self.offset:
                return self.novel  # nothing appended: a countdown's rounds trace nothing
            with open(self.path, "rb") as trace:
                size = trace.seek(0, 2)
                if size - self.offset > READ_CAP_BYTES:
                    self.offset, self.partial = size, b""
                    self.novel += 1
                    self.effects += 1
                    return self.novel
                trace.seek(self.offset)
                data = trace.read(size - self.offset)
        except OSError:
            return self.novel
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            self.effects += is_effect(line)
            shape = _NUMBERS.sub("#", line)
            if shape not in self.shapes:
                self.novel += 1
                if len(self.shapes) < MAX_SHAPES:
                    self.shapes.add(shape)
        return self.novel

    def effects_so_far(self) -> int:
        """Read what the tracer appended; the count of effect lines so far."""
        with self._lock:
            self._read()
            return self.effects
