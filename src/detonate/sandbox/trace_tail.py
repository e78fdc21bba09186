"""The growing trace, read while the sample runs: did it act, and which timed waits block now.

The idle stop must not cut a wait that is about to expire (`read -t 30; wget …`), and a
server's timer loop (`epoll_wait(…, 1000)` every second) must not count as activity. strace
writes a call's start as soon as it enters it, so a blocked wait is the trace's last,
unterminated line, or a line ending " <unfinished ...>" when another process wrote since:

    4711 1795818285.666156 poll([{fd=0</tmp/ff>, events=POLLIN}], 1, 30000
    4711 1795818285.666156 poll([{fd=0</tmp/ff>, events=POLLIN}], 1, 30000 <unfinished ...>
    4711 1795818315.667001 <... poll resumed>) = 0 (Timeout)

epoll_wait prints its timeout only on return: a blocked epoll wait holds nothing off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from detonate.sandbox.strace_lines import split_args
from detonate.sandbox.trace_events import WAIT_CALLS, wait_timeout

READ_CAP_BYTES = 4 * 1024 * 1024  # more new trace than this per look is activity, unread
ENTRY_SLACK_SECONDS = 1.0  # a wait "follows" the sample's last act when it began this soon after

_HEAD = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>")
_CALL = re.compile(r"^(\w+)\((.*)$")
_UNFINISHED = " <unfinished ...>"


@dataclass
class TraceTail:
    path: Path
    offset: int = 0
    partial: str = ""  # the last line, not yet terminated
    last_act: float = 0.0  # epoch ts of the last line that was not a timed wait
    blocked: dict[int, tuple[float, float]] = field(default_factory=dict)  # tid → (start, s)

    def read(self) -> bool:
        """Consume what strace appended; True when the sample did more than wait."""
        try:
            with open(self.path, "rb") as trace:
                size = trace.seek(0, 2)
                if size - self.offset > READ_CAP_BYTES:
                    self.offset, self.partial = size, ""
                    self.blocked.clear()
                    return True
                trace.seek(self.offset)
                data = trace.read(size - self.offset)
        except OSError:
            return False
        self.offset += len(data)
        *lines, self.partial = (self.partial + data.decode("utf-8", "replace")).split("\n")
        acted = False
        for line in lines:
            acted |= self._line(line)
        return acted

    def wait_ends(self) -> list[float]:
        """Epoch times at which the timed waits blocked now expire, for waits that began right
        after the sample's last act (a repeating timer loop's waits do not)."""
        blocked = dict(self.blocked)
        head = _HEAD.match(self.partial)
        if head is not None and (entry := _wait_entry(head[3])) is not None:
            blocked[int(head[1])] = (float(head[2]), entry)
        return [
            start + seconds
            for start, seconds in blocked.values()
            if start <= self.last_act + ENTRY_SLACK_SECONDS
        ]

    def _line(self, line: str) -> bool:
        head = _HEAD.match(line)
        if head is None:
            return bool(line.strip())
        tid, ts, body = int(head[1]), float(head[2]), head[3]
        resumed = _RESUMED.match(body)
        if resumed is not None and resumed[1] in WAIT_CALLS:
            self.blocked.pop(tid, None)
            return False
        call = _CALL.match(body)
        if call is not None and call[1] in WAIT_CALLS:
            self.blocked.pop(tid, None)
            if body.endswith(_UNFINISHED):
                entry = _wait_entry(body.removesuffix(_UNFINISHED))
                if entry is not None:
                    self.blocked[tid] = (ts, entry)
            return False
        self.last_act = max(self.last_act, ts)
        return True


def _wait_entry(body: str) -> float | None:
    """`poll([{fd=0, events=POLLIN}], 1, 30000` → 30.0; None when not a timed wait."""
    call = _CALL.match(body)
    if call is None or call[1] not in WAIT_CALLS:
        return None
    seconds = wait_timeout(call[1], split_args(call[2]))
    return seconds if seconds is not None and seconds > 0 else None
