"""Suppression files (`.detonateignore`, line or YAML format) and applying them.

Contract: `parse_suppressions` returns Suppressions or raises UsageError (the CLI's error for a
bad --ignore-file); applying them to findings splits them without losing any, and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fuzz_harness import REPO_ROOT, check, text

from detonate.errors import UsageError
from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.verdict.suppress import Suppression, apply_suppressions, parse_suppressions

TIME_BOUND = 5.0
FINDINGS = tuple(
    Finding(
        rule_id=rule,
        title=rule,
        category=Category.WEAPONIZATION,
        technique="T1496",
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        source="runtime:rules",
        evidence=(
            Evidence("ran", path="/tmp/build-1/x", process=("sh -c make", "/usr/sbin/sshd -D")),
            Evidence("… and 3 more hits"),
            Evidence("wrote", path="/etc/ssl/private/test-1.pem", event_ids=(4,)),
        ),
    )
    for rule in ("exec-from-volatile-dir", "file-private-key", "ioc-domain")
)


def seeds() -> Iterator[bytes]:
    module = (REPO_ROOT / "src/detonate/verdict/suppress.py").read_text()
    for block in re.findall(r"\n\n((?:    .+\n)+)", module):  # the examples in its docstring
        yield "\n".join(line[4:] for line in block.splitlines()).encode()


def fuzz(data: bytes) -> None:
    try:
        suppressions = parse_suppressions(text(data), ".detonateignore")
    except UsageError:
        return
    check(all(isinstance(s, Suppression) for s in suppressions), "not a Suppression")
    check(
        all(isinstance(s.rule, str) and s.rule for s in suppressions), "a suppression without rule"
    )
    result = apply_suppressions(FINDINGS, suppressions)
    before = sum(len(f.evidence) for f in FINDINGS)
    after = sum(len(f.evidence) for f in result.kept + result.suppressed)
    check(before == after, "applying suppressions lost or made up evidence")
