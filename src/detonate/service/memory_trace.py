"""Where the service's memory goes, for debugging a slow rise over many scans.

    DETONATE_TRACEMALLOC=/tmp/snaps detonate serve …     then: kill -USR2 <pid>

With the variable set, `detonate serve` traces its Python allocations (tracemalloc) from the
start, and every SIGUSR2 writes a snapshot, after a garbage collection, to
DIR/serve-<pid>-<n>.tracemalloc (written aside, then renamed: a file that exists is whole).
`benchmarks/serve_memory.py` asks for them between scans and prints what grew. Off by default:
tracing costs time and memory.
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

ENV = "DETONATE_TRACEMALLOC"
FRAMES = 12  # enough to see which caller of a library kept the memory


def trace_if_asked(environ: Mapping[str, str] = os.environ) -> bool:
    """Start tracing and snapshots on SIGUSR2 when `DETONATE_TRACEMALLOC` names a dir."""
    directory = environ.get(ENV, "")
    if not directory:
        return False
    Path(directory).mkdir(parents=True, exist_ok=True)
    tracemalloc.start(FRAMES)
    numbers = itertools.count()

    def dump(signum: int, frame: FrameType | None) -> None:
        gc.collect()
        target = Path(directory) / f"serve-{os.getpid()}-{next(numbers):04d}.tracemalloc"
        partial = target.with_suffix(".partial")
        tracemalloc.take_snapshot().dump(str(partial))
        partial.replace(target)

    signal.signal(signal.SIGUSR2, dump)
    return True
