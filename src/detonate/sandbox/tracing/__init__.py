"""tracing: what the sample did, as typed events.

`interface.Tracer` is the seam the sandbox runs against; `strace/` is the implementation today.
A second tracer (eBPF, seccomp notification) is one class implementing `Tracer` and one line in
TRACERS; SandboxOptions.tracer picks it. Detectors read the typed events and never know which.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from detonate.sandbox.tracing.interface import Tracer, TracerError
from detonate.sandbox.tracing.strace.tracer import StraceTracer

# name → the tracer for one run, given the run directory it may write to
TRACERS: dict[str, Callable[[Path], Tracer]] = {"strace": StraceTracer}


def open_tracer(name: str, run_dir: Path) -> Tracer:
    try:
        return TRACERS[name](run_dir)
    except KeyError:
        known = ", ".join(sorted(TRACERS))
        raise TracerError(f"unknown tracer {name!r} (known: {known})") from None
