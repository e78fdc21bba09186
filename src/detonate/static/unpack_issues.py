"""Hostile or unusual tar entries the unpacker refused or neutralised (Rootfs.issues) → findings,
through the static rules whose subject is `unpack_issue`."""

from __future__ import annotations

from dataclasses import dataclass

from detonate.model.filesystem import Rootfs, UnpackIssue
from detonate.model.findings import Evidence
from detonate.model.image import AcquiredImage
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.rules.loader import load_rules
from detonate.static.interface import AnalyzerResult
from detonate.static.rule_hits import RuleHits


@dataclass(frozen=True)
class IssueSubject:
    issue: UnpackIssue

    def get(self, field: str) -> object:
        issue = self.issue
        return {
            "kind": issue.kind,
            "path": issue.path,
            "detail": issue.detail,
            "layer": issue.layer_index,
        }.get(field)


class UnpackIssueAnalyzer:
    name = "unpack"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult:
        rules = [
            r for r in load_rules("static", options.extra_rules_dir) if r.subject == "unpack_issue"
        ]
        hits = RuleHits("static:unpack")
        for issue in rootfs.issues:
            subject = IssueSubject(issue)
            for rule in rules:
                assert rule.matcher is not None
                if rule.matcher.evaluate(subject) is not None:
                    evidence = Evidence(
                        description=f"tar entry {issue.kind}: {issue.detail}",
                        path=issue.path,
                        layer_index=issue.layer_index,
                    )
                    hits.add(rule, evidence)
        return AnalyzerResult(findings=hits.findings())
