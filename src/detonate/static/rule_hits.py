"""Collect rule hits during an analyzer's pass and turn them into findings: one finding per rule,
its evidence the places it hit (capped, so a rule hitting 10,000 files stays readable)."""

from __future__ import annotations

from detonate.model.findings import Evidence, Finding
from detonate.rules.loader import Rule
from detonate.static.base64_stage import decoded_stages

MAX_EVIDENCE = 20
MAX_EXCERPT = 400


class RuleHits:
    def __init__(self, source: str) -> None:
        self.source = source  # "static:files"
        self._rules: dict[str, Rule] = {}
        self._evidence: dict[str, list[Evidence]] = {}
        self._counts: dict[str, int] = {}

    def add(self, rule: Rule, evidence: Evidence) -> None:
        rule_id = rule.meta.id
        self._rules[rule_id] = rule
        self._counts[rule_id] = self._counts.get(rule_id, 0) + 1
        items = self._evidence.setdefault(rule_id, [])
        if len(items) < MAX_EVIDENCE and evidence not in items:
            items.append(evidence)

    def findings(self) -> tuple[Finding, ...]:
        findings = []
        for rule_id in sorted(self._rules):
            evidence = list(self._evidence[rule_id])
            more = self._counts[rule_id] - len(evidence)
            if more > 0:
                evidence.append(Evidence(description=f"… and {more} more hits of this rule"))
            findings.append(self._rules[rule_id].meta.finding(self.source, tuple(evidence)))
        return tuple(findings)


def excerpt(text: str, matched: str = "") -> str:
    """A readable excerpt: the text around `matched` (or its start), one line of at most
    MAX_EXCERPT characters, followed by any base64 stages it decodes."""
    flat = " ".join(text.split())
    if len(flat) > MAX_EXCERPT:
        at = flat.find(" ".join(matched.split())) if matched else 0
        start = max(0, at - MAX_EXCERPT // 4) if at > 0 else 0
        flat = ("…" if start else "") + flat[start : start + MAX_EXCERPT] + "…"
    stages = decoded_stages(text)
    if stages:
        decoded = " ⇒ ".join(" ".join(stage.split())[:MAX_EXCERPT] for stage in stages)
        flat += f"  [base64 decoded: {decoded}]"
    return flat
