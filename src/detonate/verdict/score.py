"""Score and verdict from findings.

Each finding weighs SEVERITY_POINTS[severity] * CONFIDENCE_FACTOR[confidence]; the score is the
sum, rounded and capped at 100. Verdict: `malicious` at or above MALICIOUS_AT, `suspicious` at
or above SUSPICIOUS_AT, `clean` below. One critical finding of high confidence (70) is enough
for malicious; two high ones (2 * 40) are too; one high finding alone is suspicious. Info
findings never move the score: they explain, they do not accuse.
"""

from __future__ import annotations

from collections.abc import Iterable

from detonate.model.findings import Confidence, Finding, Severity
from detonate.model.report import Verdict

SEVERITY_POINTS: dict[Severity, int] = {
    Severity.INFO: 0,
    Severity.LOW: 5,
    Severity.MEDIUM: 15,
    Severity.HIGH: 40,
    Severity.CRITICAL: 70,
}
CONFIDENCE_FACTOR: dict[Confidence, float] = {
    Confidence.LOW: 0.4,
    Confidence.MEDIUM: 0.7,
    Confidence.HIGH: 1.0,
}
MALICIOUS_AT = 60
SUSPICIOUS_AT = 15
MAX_SCORE = 100


def finding_points(finding: Finding) -> float:
    return SEVERITY_POINTS[finding.severity] * CONFIDENCE_FACTOR[finding.confidence]


def score(findings: Iterable[Finding]) -> int:
    return min(MAX_SCORE, round(sum(finding_points(f) for f in findings)))


def verdict_for(points: int) -> Verdict:
    if points >= MALICIOUS_AT:
        return Verdict.MALICIOUS
    if points >= SUSPICIOUS_AT:
        return Verdict.SUSPICIOUS
    return Verdict.CLEAN


def judge(findings: Iterable[Finding]) -> tuple[int, Verdict]:
    points = score(findings)
    return points, verdict_for(points)
