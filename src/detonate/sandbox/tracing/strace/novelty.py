"""Whether the sample did anything new: the growing trace, read while the run goes on.

The time keeper stops moving the clock once the sample has spent HORIZON of its own time
doing only what it did before (a database's background workers waking each other, each round
the same calls). A line is new when, with its numbers (pids, timestamps, fds, sizes, inodes)
blanked out, it was not seen before:

    4711 1795818285.666156 openat(AT_FDCWD</>, "/var/lib/pg/base/5/1259", O_RDWR) = 7</…>
    → # #.# openat(AT_FDCWD</>, "/var/lib/pg/base/#/#", O_RDWR) = #</…>
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

READ_CAP_BYTES = 4 * 1024 * 1024  # more new trace than this per look counts as new, unread
MAX_SHAPES = 200_000  # distinct shapes remembered; beyond, every line counts as new
_NUMBERS = re.compile(r"\d+")


@dataclass
class TraceNovelty:
    path: Path
    offset: int = 0
    partial: bytes = b""
    novel: int = 0  # lines unlike any before, so far
    shapes: set[str] = field(default_factory=set)

    def __call__(self) -> int:
        """Read what the tracer appended; the count of new-looking lines so far."""
        try:
            with open(self.path, "rb") as trace:
                size = trace.seek(0, 2)
                if size - self.offset > READ_CAP_BYTES:
                    self.offset, self.partial = size, b""
                    self.novel += 1
                    return self.novel
                trace.seek(self.offset)
                data = trace.read(size - self.offset)
        except OSError:
            return self.novel
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            shape = _NUMBERS.sub("#", line.decode("utf-8", "replace"))
            if shape not in self.shapes:
                self.novel += 1
                if len(self.shapes) < MAX_SHAPES:
                    self.shapes.add(shape)
        return self.novel
