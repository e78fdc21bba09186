"""Load rule files: one rule per file, id = file name, metadata inside.

    rules/builtin/<kind>/<rule-id>.yaml   a YAML rule (see detonate.rules.match)
    rules/builtin/<kind>/<rule-id>.yar    one YARA rule named <rule_id> (dashes → underscores)

A runtime rule file with `detector: <name>` instead of `subject`/`match` holds the metadata of a
correlation detector (detonate.detect.correlations), which does the matching in Python.

`kind` is "static" or "runtime". User rules (`extra_dir`) are the same types as built-in ones.
Every problem (unknown category, severity, technique format, field, operator, …) is a
RuleError at load time, naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from detonate.errors import RuleError
from detonate.rules.match import Matcher, compile_matcher
from detonate.rules.metadata import META_KEYS, RuleMeta
from detonate.rules.subjects import LATE_FIELDS, SUBJECT_FIELDS, YARA_SUBJECT

KINDS = ("static", "runtime")
BUILTIN_DIR = Path(__file__).parent / "builtin"
YAML_KEYS = frozenset(META_KEYS) | {"subject", "match", "unless", "detector"}
DETECTOR_SUBJECT = "detector"  # the subject of a correlation detector's metadata file

# rule xmrig_miner_config : tag1 tag2 {
YARA_RULE = re.compile(r"^\s*(?:private\s+|global\s+)*rule\s+(\w+)", re.MULTILINE)
# meta:  title = "XMRig configuration"   (the section ends at strings: or condition:)
YARA_META_SECTION = re.compile(r"\bmeta\s*:(.*?)\b(?:strings|condition)\s*:", re.DOTALL)
YARA_META_ITEM = re.compile(r'^\s*(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"', re.MULTILINE)


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    path: Path
    subject: str  # a key of SUBJECT_FIELDS for YAML rules; "content" for YARA rules
    matcher: Matcher | None = None  # YAML rules
    source: str = ""  # YARA rules: the rule's text
    detector: str = ""  # correlation detectors: the detector's name

    @property
    def is_yara(self) -> bool:
        return self.subject == YARA_SUBJECT


def builtin_dir(kind: str) -> Path:
    if kind not in KINDS:
        raise RuleError(f"unknown rule kind {kind!r}", f"use one of: {', '.join(KINDS)}")
    return BUILTIN_DIR / kind


@lru_cache(maxsize=8)
def load_rules(kind: str, extra_dir: Path | None = None) -> tuple[Rule, ...]:
    """All rules of `kind`: built-in, then those in `extra_dir`, sorted by id."""
    directories = [builtin_dir(kind)]
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise RuleError(f"rules directory {extra_dir} does not exist")
        directories.append(extra_dir)
    rules: dict[str, Rule] = {}
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix not in (".yaml", ".yml", ".yar"):
                continue
            rule = load_rule_file(path)
            if rule.meta.id in rules:
                raise RuleError(
                    f"{path}: rule id {rule.meta.id!r} is already defined by "
                    f"{rules[rule.meta.id].path}",
                    "rule ids are file names and must be unique",
                )
            rules[rule.meta.id] = rule
    return tuple(rules[rule_id] for rule_id in sorted(rules))


def load_rule_file(path: Path) -> Rule:
    if path.suffix == ".yar":
        return _load_yara(path)
    return _load_yaml(path)


def _load_yaml(path: Path) -> Rule:
    origin = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RuleError(f"{origin}: cannot read rule: {error}") from None
    if not isinstance(data, dict):
        raise RuleError(f"{origin}: a rule file must be a YAML mapping")
    unknown = set(map(str, data)) - YAML_KEYS
    if unknown:
        raise RuleError(
            f"{origin}: unknown key {', '.join(sorted(unknown))}",
            f"keys: {', '.join(sorted(YAML_KEYS))}",
        )
    meta = RuleMeta.parse(path.stem, data, origin)
    if data.get("detector"):
        if {"subject", "match", "unless"} & set(map(str, data)):
            raise RuleError(f"{origin}: a detector's metadata has no subject, match or unless")
        return Rule(meta=meta, path=path, subject=DETECTOR_SUBJECT, detector=str(data["detector"]))
    subject = str(data.get("subject", ""))
    if subject not in SUBJECT_FIELDS:
        raise RuleError(
            f"{origin}: unknown subject {subject!r}",
            f"use one of: {', '.join(sorted(SUBJECT_FIELDS))}",
        )
    matcher = compile_matcher(
        data.get("match"),
        data.get("unless"),
        SUBJECT_FIELDS[subject],
        origin,
        LATE_FIELDS.get(subject, frozenset()),
    )
    return Rule(meta=meta, path=path, subject=subject, matcher=matcher)


def _load_yara(path: Path) -> Rule:
    origin = str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuleError(f"{origin}: cannot read rule: {error}") from None
    names = YARA_RULE.findall(source)
    expected = path.stem.replace("-", "_")
    if names != [expected]:
        raise RuleError(
            f"{origin}: expected exactly one YARA rule named {expected!r}, found {names}",
            "one rule per file; the rule name is the file name with '-' written as '_'",
        )
    section = YARA_META_SECTION.search(source)
    fields = dict(YARA_META_ITEM.findall(section.group(1))) if section else {}
    meta = RuleMeta.parse(path.stem, fields, origin)
    return Rule(meta=meta, path=path, subject=YARA_SUBJECT, source=source)
