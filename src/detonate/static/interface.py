"""The one shape every static analyzer has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from detonate.model.filesystem import Rootfs
from detonate.model.findings import Finding
from detonate.model.image import AcquiredImage
from detonate.model.iocs import Iocs
from detonate.model.options import StaticOptions
from detonate.progress import Progress


@dataclass(frozen=True)
class AnalyzerResult:
    findings: tuple[Finding, ...] = ()
    iocs: Iocs = field(default_factory=Iocs)


class Analyzer(Protocol):
    name: str  # "config", "files", "yara", "iocs"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult: ...
