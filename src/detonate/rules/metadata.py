"""What every rule says about itself, static or runtime, YARA or YAML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from detonate.attack import current_id
from detonate.errors import RuleError
from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity

# ATT&CK technique ids: "T1496", or a sub-technique "T1036.005". A rule may use an id of an
# older release: its findings carry the current one (detonate.attack).
TECHNIQUE = re.compile(r"T\d{4}(?:\.\d{3})?")
# Rule ids are file names: lower-case words joined by "-" ("file-ld-so-preload").
RULE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
E = TypeVar("E", Severity, Confidence, Category)
META_KEYS = ("title", "why", "severity", "confidence", "category", "technique")


@dataclass(frozen=True)
class RuleMeta:
    id: str
    title: str
    why: str
    severity: Severity
    confidence: Confidence
    category: Category
    technique: str

    @classmethod
    def parse(cls, rule_id: str, fields: Mapping[str, object], origin: str) -> RuleMeta:
        """Validate metadata read from a rule file; `origin` names the file in errors."""
        if not RULE_ID.fullmatch(rule_id):
            raise RuleError(
                f"{origin}: rule id {rule_id!r} is not lower-case words joined by '-'",
                "rename the file, e.g. 'file-ld-so-preload.yaml'",
            )
        missing = [key for key in META_KEYS if not str(fields.get(key) or "").strip()]
        if missing:
            raise RuleError(
                f"{origin}: missing metadata {', '.join(missing)}",
                f"every rule needs {', '.join(META_KEYS)}",
            )
        text = {key: " ".join(str(fields[key]).split()) for key in META_KEYS}
        technique = text["technique"]
        if not TECHNIQUE.fullmatch(technique):
            raise RuleError(
                f"{origin}: technique {technique!r} is not an ATT&CK id",
                "write it like T1496 or T1036.005",
            )
        return cls(
            id=rule_id,
            title=text["title"],
            why=text["why"],
            severity=_enum(Severity, text["severity"], "severity", origin),
            confidence=_enum(Confidence, text["confidence"], "confidence", origin),
            category=_enum(Category, text["category"], "category", origin),
            # the current release's id, whatever release the rule was written against
            technique=current_id(technique),
        )

    def finding(
        self, source: str, evidence: tuple[Evidence, ...], runtime_only: bool = False
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            title=self.title,
            category=self.category,
            technique=self.technique,
            severity=self.severity,
            confidence=self.confidence,
            source=source,
            evidence=evidence,
            runtime_only=runtime_only,
            why=self.why,
        )


def _enum(kind: type[E], value: str, name: str, origin: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise RuleError(f"{origin}: unknown {name} {value!r}", f"use one of: {allowed}") from None
