"""YARA rules (yara-x) over the regular files of the rootfs, at most `yara_max_file_bytes` each.

The scanning is the content pass's (content_pass.py): each distinct content once, on worker
processes, cached by sha256. What this analyzer adds is per path: every file with a matching
content is evidence.
"""

from __future__ import annotations

from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.findings import Evidence
from detonate.model.image import AcquiredImage
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.static.content_pass import content_key, content_results
from detonate.static.interface import AnalyzerResult
from detonate.static.rule_hits import RuleHits
from detonate.static.yara_rules import compiled_rules


class YaraAnalyzer:
    name = "yara"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult:
        results = content_results(rootfs, options, progress)  # compiles the rules first
        compiled = compiled_rules(options.extra_rules_dir)
        if not compiled.by_name:
            return AnalyzerResult()
        hits = RuleHits("static:yara")
        for entry in rootfs.entries:
            if entry.type is not FileType.FILE or not 0 < entry.size <= options.yara_max_file_bytes:
                continue
            for identifier, text in results.yara.get(content_key(entry), ()):
                rule = compiled.by_name.get(identifier)
                if rule is not None:
                    hits.add(rule, _evidence(entry, text))
        return AnalyzerResult(findings=hits.findings())


def _evidence(entry: FileEntry, text: str) -> Evidence:
    return Evidence(
        description=f"YARA match in a {entry.size}-byte file",
        path=entry.path,
        layer_index=entry.layer_index,
        sha256=entry.sha256,
        excerpt=text,
    )
