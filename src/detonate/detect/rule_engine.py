"""Runtime rules: YAML files under rules/builtin/runtime/ (and a user directory), each matching
single events through the same match language as the static rules, over the subjects of
detect.event_subjects. One finding per rule that fired; its evidence the events it fired on.

    engine = RuleEngine.load()              # built-in runtime rules (+ extra_dir)
    findings = engine.detect(run_view)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from detonate.detect.event_subjects import EventSubject, event_subjects
from detonate.detect.interface import RunView
from detonate.errors import RuleError
from detonate.model.findings import Evidence, Finding
from detonate.rules.loader import Rule, load_rules
from detonate.rules.subjects import RUNTIME_SUBJECT_FIELDS

SOURCE = "runtime:rules"
MAX_EVIDENCE = 20
MAX_EXCERPT = 400


@dataclass(frozen=True)
class RuleEngine:
    name = "rules"
    rules: tuple[Rule, ...]

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> RuleEngine:
        # Detector metadata files (`detector:`) belong to the correlators, not to this engine.
        rules = tuple(r for r in load_rules("runtime", extra_dir) if not r.detector)
        for rule in rules:
            if rule.subject not in RUNTIME_SUBJECT_FIELDS:
                raise RuleError(
                    f"{rule.path}: runtime rules match events, not {rule.subject!r}",
                    f"use one of: {', '.join(sorted(RUNTIME_SUBJECT_FIELDS))}",
                )
        return cls(rules)

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        by_subject: dict[str, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            by_subject[rule.subject].append(rule)
        hits: dict[str, _Hits] = {}
        for subject in event_subjects(run):
            for rule in by_subject.get(subject.name, ()):
                assert rule.matcher is not None  # YAML rules always have one
                hit = rule.matcher.evaluate(subject)
                if hit is None:
                    continue
                hits.setdefault(rule.meta.id, _Hits(rule)).add(
                    evidence_of(subject, hit.excerpts, run)
                )
        return tuple(hits[rule_id].finding() for rule_id in sorted(hits))


@dataclass
class _Hits:
    rule: Rule
    count: int = 0

    def __post_init__(self) -> None:
        self.evidence: list[Evidence] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, evidence: Evidence) -> None:
        self.count += 1
        # The same act repeated (a loop connecting to the same socket) is one piece of evidence.
        key = (evidence.description, evidence.path, evidence.destination)
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(evidence)

    def finding(self) -> Finding:
        evidence = list(self.evidence)
        more = self.count - len(evidence)
        if more > 0:
            evidence.append(Evidence(description=f"… and {more} more events matched this rule"))
        return self.rule.meta.finding(SOURCE, tuple(evidence), runtime_only=True)


def evidence_of(subject: EventSubject, excerpts: tuple[str, ...], run: RunView) -> Evidence:
    path = str(subject.get("path") or "") if subject.name in ("exec", "file_change", "read") else ""
    if subject.name == "connect" and subject.get("family") == "AF_UNIX":
        path = str(subject.get("address") or "")
    sha256 = next((c.sha256 for c in run.files if path and c.path == path and c.sha256), "")
    text = " | ".join(excerpts) or str(subject.get("cmdline") or "")
    return Evidence(
        description=subject.summary,
        path=path,
        sha256=sha256,
        excerpt=text[:MAX_EXCERPT],
        event_ids=(subject.event.seq,),
        process=subject.chain,
        destination=subject.destination,
    )
