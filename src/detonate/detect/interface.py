"""The seam every runtime detector fits: a view of the run in, findings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from detonate.model.events import Event
from detonate.model.findings import Finding
from detonate.model.image import ImageConfig
from detonate.model.runtime import FileChange, Honeytoken, ProcessInfo, RunInfo


@dataclass(frozen=True)
class RunView:
    """Everything a detector may look at. Events are in stream order; `seq` is their id."""

    events: tuple[Event, ...]
    processes: tuple[ProcessInfo, ...] = ()
    files: tuple[FileChange, ...] = ()
    honeytokens: tuple[Honeytoken, ...] = ()
    config: ImageConfig = field(default_factory=ImageConfig)
    run: RunInfo | None = None  # how the run went: duration, CPU seconds (mining needs them)

    def process(self, pid: int) -> ProcessInfo | None:
        for info in self.processes:
            if info.pid == pid:
                return info
        return None


class Detector(Protocol):
    name: str  # "download-exec-chain", "stratum-mining", …

    def detect(self, run: RunView) -> tuple[Finding, ...]: ...
