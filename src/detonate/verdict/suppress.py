"""Suppressions: `.detonateignore` says which findings a team has reviewed and accepts.

Line format, one suppression a line; `#` starts a comment, which is kept as the reason:

    exec-download-tool-url                        # our entrypoint fetches its config
    exec-from-volatile-dir   path=/tmp/build-*    # the build step runs from /tmp
    file-private-key         path=/etc/ssl/private/test-*.pem
    exec-sshd-start          process=*/usr/sbin/sshd*
    ioc-*                                         # rule ids may be globs
    *                     technique=T1562.004     # every finding of one ATT&CK technique

(Globs in the line format have no spaces: match one with `?` or `*`, or use YAML.)

YAML format (a file that is a mapping with `suppress:`):

    suppress:
      - rule: file-private-key
        path: /etc/ssl/private/*
        reason: test fixture key

`technique` narrows a suppression to findings of that ATT&CK technique or its sub-techniques,
named by its current id or one it had before (T1562.004 is T1686 since ATT&CK v19:
detonate.attack), so suppressions written against an older release keep matching.

A suppression with only a rule hides every finding of that rule. With `path` and/or `process`
(globs, both must hold when both are given) it hides the evidence that matches: `path` against
the evidence's path, `process` against any command line of its process chain. A finding whose
evidence is all hidden is suppressed; one with evidence left is kept with that evidence only.

Suppressed findings leave the list that is scored; the report lists them apart, so a reader can
see what was accepted and by which line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

from detonate.attack import matches
from detonate.errors import UsageError
from detonate.model.findings import Evidence, Finding

DEFAULT_NAME = ".detonateignore"
LINE_KEYS = ("path", "process", "technique")
TECHNIQUE_ID = re.compile(r"T\d{4}(?:\.\d{3})?")
# exec-from-volatile-dir  path=/tmp/build-*  process=*make*   # reason
LINE = re.compile(r"^(?P<rule>[^\s#=]+)(?P<rest>(?:\s+\w+=\S+)*)\s*(?:#\s*(?P<reason>.*))?$")


@dataclass(frozen=True)
class Suppression:
    rule: str  # rule id or glob of rule ids
    path: str = ""  # glob on evidence paths
    process: str = ""  # glob on the command lines of the evidence's process chain
    technique: str = ""  # ATT&CK id, current or previous: its findings and sub-techniques
    reason: str = ""
    origin: str = ""  # ".detonateignore:3"

    @property
    def whole_rule(self) -> bool:
        return not self.path and not self.process

    def covers_rule(self, rule_id: str) -> bool:
        return fnmatchcase(rule_id, self.rule)

    def covers_finding(self, finding: Finding) -> bool:
        """The finding's rule, and technique when one is given (path and process are judged
        per evidence)."""
        if not self.covers_rule(finding.rule_id):
            return False
        return not self.technique or matches(self.technique, finding.technique)

    def covers_evidence(self, evidence: Evidence) -> bool:
        if self.path and not (evidence.path and fnmatchcase(evidence.path, self.path)):
            return False
        return not self.process or any(fnmatchcase(c, self.process) for c in evidence.process)


@dataclass(frozen=True)
class SuppressionResult:
    kept: tuple[Finding, ...]  # what is scored and reported as findings
    suppressed: tuple[Finding, ...]  # whole findings hidden, and the hidden part of kept ones


def find_ignore_file(directory: Path) -> Path | None:
    """`.detonateignore` in `directory` (the CLI's default), None when there is none."""
    candidate = directory / DEFAULT_NAME
    return candidate if candidate.is_file() else None


def load_suppressions(path: Path) -> tuple[Suppression, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"cannot read suppression file {path}: {error.strerror}",
            "pass an existing file with --ignore-file",
        ) from None
    return parse_suppressions(text, str(path))


def parse_suppressions(text: str, origin: str) -> tuple[Suppression, ...]:
    try:
        data = yaml.safe_load(text)
    # RecursionError: "[[[[…" nested too deep; ValueError: PyYAML's int resolver on "0x_"
    except (yaml.YAMLError, RecursionError, ValueError):
        data = None
    if isinstance(data, dict) and "suppress" in data:
        return _from_yaml(data["suppress"], origin)
    return _from_lines(text, origin)


def apply_suppressions(
    findings: Iterable[Finding], suppressions: Iterable[Suppression]
) -> SuppressionResult:
    rules = tuple(suppressions)
    kept: list[Finding] = []
    hidden: list[Finding] = []
    for finding in findings:
        matching = [s for s in rules if s.covers_finding(finding)]
        if any(s.whole_rule for s in matching):
            hidden.append(finding)
            continue
        visible = [e for e in finding.evidence if not any(s.covers_evidence(e) for s in matching)]
        removed = [e for e in finding.evidence if e not in visible]
        if not removed:
            kept.append(finding)
        elif any(_concrete(e) for e in visible):
            kept.append(replace(finding, evidence=tuple(visible)))
            hidden.append(replace(finding, evidence=tuple(removed)))
        else:
            hidden.append(finding)
    return SuppressionResult(tuple(kept), tuple(hidden))


def _concrete(evidence: Evidence) -> bool:
    """Evidence that names something ("… and 3 more hits" does not)."""
    return bool(
        evidence.path or evidence.process or evidence.event_ids or evidence.destination
    ) or bool(evidence.excerpt)


def _from_lines(text: str, origin: str) -> tuple[Suppression, ...]:
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{origin}:{number}"
        parsed = LINE.match(line)
        if parsed is None:
            raise UsageError(
                f"{where}: cannot read suppression {line!r}",
                "write: RULE-ID [path=GLOB] [process=GLOB]  # reason",
            )
        options: dict[str, str] = {}
        for item in parsed.group("rest").split():
            key, _, value = item.partition("=")
            if key not in LINE_KEYS:
                raise UsageError(f"{where}: unknown key {key!r}", f"keys: {', '.join(LINE_KEYS)}")
            options[key] = value
        found.append(
            Suppression(
                rule=parsed.group("rule"),
                reason=(parsed.group("reason") or "").strip(),
                origin=where,
                **options,
            )
        )
    return _checked(tuple(found))


def _from_yaml(items: object, origin: str) -> tuple[Suppression, ...]:
    if not isinstance(items, list):
        raise UsageError(
            f"{origin}: 'suppress' must be a list of {{rule, path, process, technique, reason}}"
        )
    found = []
    for number, item in enumerate(items, start=1):
        where = f"{origin}: suppress[{number}]"
        if not isinstance(item, dict) or not str(item.get("rule") or "").strip():
            raise UsageError(f"{where}: every suppression needs a 'rule'")
        unknown = set(map(str, item)) - {"rule", "path", "process", "technique", "reason"}
        if unknown:
            raise UsageError(f"{where}: unknown key {', '.join(sorted(unknown))}")
        found.append(
            Suppression(
                rule=str(item["rule"]).strip(),
                path=str(item.get("path") or ""),
                process=str(item.get("process") or ""),
                technique=str(item.get("technique") or "").strip(),
                reason=str(item.get("reason") or ""),
                origin=where,
            )
        )
    return _checked(tuple(found))


def _checked(found: tuple[Suppression, ...]) -> tuple[Suppression, ...]:
    """A mistyped technique would hide nothing, silently: refused instead."""
    for entry in found:
        if entry.technique and not TECHNIQUE_ID.fullmatch(entry.technique):
            raise UsageError(
                f"{entry.origin}: technique {entry.technique!r} is not an ATT&CK id",
                "write it like T1496 or T1562.004",
            )
    return found
