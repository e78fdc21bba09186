"""The seam between the sandbox and whatever watches the sample: `Tracer`, and the
`TraceSummary` it hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from detonate.model.events import Event
from detonate.model.runtime import ProcessInfo


@dataclass(frozen=True)
class TraceSummary:
    events: tuple[Event, ...]
    processes: tuple[ProcessInfo, ...]
    parse_errors: int
    lines_lost: int  # cut off at the end of the trace, or a call whose start was never written
    unparsed_samples: tuple[str, ...]  # the first few unparsable lines, for the report/debugging
    runtime_setup_lines: int
    skipped_sleep_seconds: float
    init_exit_code: int | None
    executed_paths: frozenset[str]  # every path a successful exec ran (container view)


class Tracer(Protocol):
    def attach(self, init_pid: int) -> None:
        """Trace `init_pid` and every thread/child it will have; return once attached."""

    def pid(self) -> int:
        """The tracer's own pid (recorded for leftover cleanup)."""

    def output_bytes(self) -> int:
        """Trace bytes written so far (grows while the sample acts)."""

    def running(self) -> bool: ...

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Wait for the tracer to finish (its tracees are gone), kill it after the grace."""

    def summary(
        self,
        t0: float,
        workdir: str,
        entrypoint: str,
        watched: Mapping[str, str] = {},
        rootfs: Path | None = None,
    ) -> TraceSummary:
        """Events of the run; opens for reading are reported for the `watched` paths only.
        `rootfs` (still mounted) resolves scripts' interpreters and /proc/self/exe."""
