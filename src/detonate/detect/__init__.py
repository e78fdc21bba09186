"""detect: what a run's events mean — runtime rules (YAML, one event each) and correlation
detectors (Python, sequences and rates) → findings, merged with the static ones.

    detection = detect(RunView(events=run.events, processes=…, files=…, honeytokens=…,
                               config=image.config), static_findings)
    detection.findings, detection.failures

`findings` is one list: the static findings unchanged, then the runtime findings, each marked
`runtime_only` when no static finding saw the same thing. A detector that raises is caught and
named in `failures` (the others' findings stand): a bug in one detector, or a run shaped in a
way nobody foresaw, must cost that detector's findings, never the scan. A broken user rule is
not such a failure: loading the rules raises before any detector runs.

"Saw the same thing" means: a static finding has the same ATT&CK technique, or one of the two
techniques is the parent of the other (static T1036 covers runtime T1036.005 and the reverse).
Paths and processes are not compared: a static finding works on the image's files and config,
a runtime one on what ran, and their evidence rarely names the same string even when both saw
the same payload.

Duplicates: findings of one rule id are merged into one (evidence joined, strongest severity
and confidence kept). A rule-engine finding whose every event is already evidence of a
correlator finding with the same technique is dropped: the correlation says it better.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from detonate.detect.correlations import CORRELATORS
from detonate.detect.interface import Detector, RunView
from detonate.detect.rule_engine import SOURCE as RULES_SOURCE
from detonate.detect.rule_engine import RuleEngine
from detonate.model.findings import Confidence, DetectorFailure, Evidence, Finding, Severity

__all__ = [
    "Detection",
    "RunView",
    "deduplicate",
    "detect",
    "detectors",
    "mark_runtime_only",
    "run_detectors",
    "runtime_findings",
]

MAX_EVIDENCE = 40
SEVERITY_ORDER = list(Severity)
CONFIDENCE_ORDER = list(Confidence)
ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True)
class Detection:
    findings: tuple[Finding, ...]
    failures: tuple[DetectorFailure, ...] = ()


def detectors(rules_dir: Path | None = None) -> tuple[Detector, ...]:
    """The rule engine (built-in runtime rules plus `rules_dir`) and every correlator."""
    return (RuleEngine.load(rules_dir), *CORRELATORS)


def run_detectors(run: RunView, rules_dir: Path | None = None) -> Detection:
    """What every detector found in the run, duplicates merged, sorted by rule id; a detector
    that raised is named in `failures`."""
    found: list[Finding] = []
    failures: list[DetectorFailure] = []
    for detector in detectors(rules_dir):
        try:
            found.extend(detector.detect(run))
        except Exception as exc:  # any bug in one detector costs its findings, not the scan
            failures.append(DetectorFailure(detector.name, _one_line(exc)))
    return Detection(deduplicate(found), tuple(failures))


def runtime_findings(run: RunView, rules_dir: Path | None = None) -> tuple[Finding, ...]:
    """What every detector found in the run, duplicates merged, sorted by rule id; raises
    when one failed (for rule development and tests, where a detector bug must be loud)."""
    detection = run_detectors(run, rules_dir)
    if detection.failures:
        named = "; ".join(f"{f.detector}: {f.error}" for f in detection.failures)
        raise RuntimeError(f"detectors failed: {named}")
    return detection.findings


def detect(
    run: RunView, static_findings: Sequence[Finding] = (), rules_dir: Path | None = None
) -> Detection:
    """Static findings, then runtime findings marked `runtime_only` when static missed them."""
    runtime = run_detectors(run, rules_dir)
    marked = mark_runtime_only(runtime.findings, static_findings)
    return Detection((*static_findings, *marked), runtime.failures)


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"


def deduplicate(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """One finding per rule id; rule-engine findings a correlator already explains dropped;
    sorted by rule id."""
    return tuple(sorted(_drop_covered(_merge_same_rule(findings)), key=lambda f: f.rule_id))


def mark_runtime_only(
    runtime: Iterable[Finding], static_findings: Iterable[Finding]
) -> tuple[Finding, ...]:
    seen = [f.technique for f in static_findings]
    return tuple(
        replace(f, runtime_only=not any(_same_technique(f.technique, t) for t in seen))
        for f in runtime
    )


def _same_technique(a: str, b: str) -> bool:
    return a == b or a.split(".")[0] == b or b.split(".")[0] == a


def _merge_same_rule(findings: Iterable[Finding]) -> list[Finding]:
    merged: dict[str, Finding] = {}
    for finding in findings:
        known = merged.get(finding.rule_id)
        if known is None:
            merged[finding.rule_id] = finding
            continue
        evidence = list(known.evidence)
        evidence += [e for e in finding.evidence if e not in evidence]
        merged[finding.rule_id] = replace(
            known,
            evidence=tuple(evidence[:MAX_EVIDENCE]),
            severity=max(known.severity, finding.severity, key=SEVERITY_ORDER.index),
            confidence=max(known.confidence, finding.confidence, key=CONFIDENCE_ORDER.index),
        )
    return list(merged.values())


def _event_ids(evidence: Iterable[Evidence]) -> set[int]:
    return {event_id for e in evidence for event_id in e.event_ids}


def _drop_covered(findings: list[Finding]) -> list[Finding]:
    correlated = [f for f in findings if f.source != RULES_SOURCE]
    kept = []
    for finding in findings:
        ids = _event_ids(finding.evidence)
        covered = finding.source == RULES_SOURCE and any(
            other.technique == finding.technique and ids <= _event_ids(other.evidence)
            for other in correlated
        )
        if not (covered and ids):
            kept.append(finding)
    return kept
