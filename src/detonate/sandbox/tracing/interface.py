"""The seam between the sandbox and whatever watches the sample.

A tracer is told the pid of runc's init after `runc create` and before `runc start`, follows it
and every thread and child it will have, and at the end hands back a `TraceSummary`: typed
events (model/events.py) and the process table. The sandbox asks it nothing else about the
sample: it never reads the tracer's output, and no detector sees it.

    tracer = open_tracer(options.tracer, run_dir)   # tracing/__init__.py
    tracer.attach(init_pid)         # raises TracerError when it cannot
    ...runc start; while tracer.running() and not tracer.limit_reached(): wait
    tracer.stop()                   # after runc kill: the tracees are gone
    summary = tracer.summary(TraceContext(t0, workdir, entrypoint, watched, rootfs))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from detonate.errors import SandboxError
from detonate.model.events import Event
from detonate.model.runtime import ProcessInfo


class TracerError(SandboxError):
    """The tracer could not attach to the container or could not run (the sample never ran)."""


@dataclass(frozen=True)
class TraceContext:
    """What a tracer needs to know of the run to turn what it saw into events."""

    t0: float  # epoch time of `runc start`; event timestamps are seconds since it
    workdir: str  # the entrypoint's working directory (relative paths)
    entrypoint: str  # argv[0] of the entrypoint, the init's program before its first exec
    # planted honeytokens, path → kind: opens for reading are reported for these paths only
    watched: Mapping[str, str] = field(default_factory=dict)
    rootfs: Path | None = None  # the merged rootfs, still mounted: scripts, /proc/self/exe


@dataclass(frozen=True)
class TraceSummary:
    events: tuple[Event, ...]
    processes: tuple[ProcessInfo, ...]
    parse_errors: int  # records the tracer could not read
    lines_lost: int  # cut off at the end of the trace, or a call whose start was never written
    unparsed_samples: tuple[str, ...]  # the first few unreadable records, for debugging
    runtime_setup_lines: int  # records of runc's init before the entrypoint's exec (not events)
    skipped_sleep_seconds: float
    init_exit_code: int | None
    executed_paths: frozenset[str]  # every path a successful exec ran (container view)


class Tracer(Protocol):
    """What the sandbox needs of a tracer. One instance traces one run."""

    name: str  # "strace": the value of SandboxOptions.tracer that picks it

    def attach(self, init_pid: int) -> None:
        """Trace `init_pid` and every thread/child it will have; return once attached, so the
        entrypoint's first instruction is seen. Raises TracerError."""

    def pid(self) -> int:
        """The tracer's own process, recorded so a later run kills a leftover; 0 when none."""

    def running(self) -> bool:
        """False once every traced process is gone (the sample exited)."""

    def activity(self) -> int:
        """How many things the sample did so far that look unlike what it did before: the
        time keeper stops moving the clock for a sample that only repeats itself."""

    def effects(self) -> int:
        """How many effects (a write-open, a connect, a signal sent …) the sample had so far:
        the time keeper tells a countdown (waits and nothing else) from a health loop by it."""

    def limit_reached(self) -> bool:
        """The tracer's own output limit (strace: the trace file's size) is reached: the run
        ends ("trace-limit") before the host's disk or memory pays for it."""

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Finish after the container was killed: wait for the tracer, kill it after the grace.
        Safe to call twice and before attach."""

    def summary(self, context: TraceContext) -> TraceSummary:
        """The run's typed events and process table (after stop)."""
