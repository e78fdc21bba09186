"""static: image config, file index, YARA and IOCs → findings, without running anything.

`ANALYZERS` is the explicit list; `analyze` runs them in order and merges what they found.
"""

from __future__ import annotations

from detonate.model.filesystem import Rootfs
from detonate.model.findings import Finding
from detonate.model.image import AcquiredImage
from detonate.model.iocs import Iocs
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.static.config import ConfigAnalyzer
from detonate.static.content_pass import settle_content_pass, start_content_pass
from detonate.static.files import FileIndexAnalyzer
from detonate.static.interface import Analyzer, AnalyzerResult
from detonate.static.iocs import IocAnalyzer
from detonate.static.unpack_issues import UnpackIssueAnalyzer
from detonate.static.yara import YaraAnalyzer

ANALYZERS: tuple[Analyzer, ...] = (
    ConfigAnalyzer(),
    FileIndexAnalyzer(),
    YaraAnalyzer(),
    IocAnalyzer(),
    UnpackIssueAnalyzer(),
)


def analyze(
    image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
) -> AnalyzerResult:
    """Run every analyzer; findings sorted by rule id, IOCs merged, plus the hashes of the
    files the findings point at."""
    findings: list[Finding] = []
    iocs = Iocs()
    start_content_pass(rootfs, options, progress)  # scans while the first analyzers run
    try:
        for analyzer in ANALYZERS:
            result = analyzer.analyze(image, rootfs, options, progress)
            findings.extend(result.findings)
            iocs = iocs.merged(result.iocs)
    finally:
        settle_content_pass(rootfs, options)
    hashes = {e.sha256 for f in findings for e in f.evidence if e.sha256}
    iocs = iocs.merged(Iocs(file_hashes=tuple(sorted(hashes))))
    findings.sort(key=lambda f: (f.rule_id, f.source))
    return AnalyzerResult(findings=tuple(findings), iocs=iocs)
