"""Correlation detectors keep their metadata as data, like every other rule:

    rules/builtin/runtime/<rule-id>.yaml      detector: <detector name>   (no subject, no match)

so their titles, severities and techniques are documented and reviewed with the YAML rules,
and read by the same loader.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

from detonate.errors import RuleError
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.rules.loader import builtin_dir, load_rule_file
from detonate.rules.metadata import RuleMeta


def detector_meta(rule_id: str, detector: str) -> RuleMeta:
    path = builtin_dir("runtime") / f"{rule_id}.yaml"
    try:
        info = path.stat()
    except OSError:
        raise RuleError(f"{path}: the metadata of detector {detector!r} is missing") from None
    # keyed by the file's size and mtime: an edited file is read again
    return _detector_meta(path, detector, info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=256)
def _detector_meta(path: Path, detector: str, size: int, mtime_ns: int) -> RuleMeta:
    rule = load_rule_file(path)
    if rule.detector != detector:
        raise RuleError(
            f"{path}: names detector {rule.detector!r}, but {detector!r} reports this rule",
            f"set 'detector: {detector}' in the file",
        )
    return rule.meta


def finding(
    rule_id: str,
    detector: str,
    evidence: list[Evidence] | tuple[Evidence, ...],
    *,
    severity: Severity | None = None,
    confidence: Confidence | None = None,
    why: str = "",
) -> Finding:
    """A finding of `rule_id`; severity/confidence override the file's when the run says more
    (a delay followed by a payload is worse than a delay alone). `why` is appended."""
    meta = detector_meta(rule_id, detector)
    result = meta.finding(f"runtime:{detector}", tuple(evidence))
    if severity is not None:
        result = dataclasses.replace(result, severity=severity)
    if confidence is not None:
        result = dataclasses.replace(result, confidence=confidence)
    if why:
        result = dataclasses.replace(result, why=f"{meta.why} {why}")
    return result
