"""Load rule files: one rule per file, id = file name, metadata inside.

    rules/builtin/<kind>/<rule-id>.yaml   a YAML rule (see detonate.rules.match)
    rules/builtin/<kind>/<rule-id>.yar    one YARA rule named <rule_id> (dashes → underscores)

A runtime rule file with `detector: <name>` instead of `subject`/`match` holds the metadata of a
correlation detector (detonate.detect.correlations), which does the matching in Python.

`kind` is "static" or "runtime". User rules (`extra_dir`) are the same types as built-in ones.
Every problem (unknown category, severity, technique format, field, operator, …) is a
RuleError at load time, naming the file.

Loaded rules are cached by the directories' fingerprint (each rule file's name, size and
mtime): a long-running service picks up an edited, added or removed rule on its next scan, and
`ruleset_hash()` names the rules' content for the store's cache key.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from detonate.attack import catalogue_bytes
from detonate.errors import RuleError
from detonate.rules.match import Matcher, compile_matcher
from detonate.rules.metadata import META_KEYS, RuleMeta
from detonate.rules.subjects import LATE_FIELDS, SUBJECT_FIELDS, YARA_SUBJECT

# libyaml's safe loader where PyYAML has it: the same documents, ten times faster (0.25 s of
# every scan's start went into parsing the built-in rules in Python).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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


RULE_SUFFIXES = (".yaml", ".yml", ".yar")
# (path, size, mtime_ns) of every rule file a load reads: equal fingerprints, equal rules
Fingerprint = tuple[tuple[str, int, int], ...]
FINGERPRINT_SECONDS = 1.0
_FINGERPRINTS: dict[tuple[str, Path | None], tuple[float, Fingerprint]] = {}
_FINGERPRINT_LOCK = threading.Lock()


def rule_files(kind: str, extra_dir: Path | None = None) -> list[Path]:
    """The files `load_rules(kind, extra_dir)` reads, in load order."""
    directories = [builtin_dir(kind)]
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise RuleError(f"rules directory {extra_dir} does not exist")
        directories.append(extra_dir)
    return [
        path
        for directory in directories
        if directory.is_dir()
        for path in sorted(directory.iterdir())
        if path.suffix in RULE_SUFFIXES
    ]


def fingerprint(kind: str, extra_dir: Path | None = None) -> Fingerprint:
    """The rule files' fingerprint, looked at again at most every FINGERPRINT_SECONDS (hot
    paths ask per command line; a service sees an edited rule within that time)."""
    key = (kind, extra_dir)
    at = time.monotonic()
    with _FINGERPRINT_LOCK:
        known = _FINGERPRINTS.get(key)
        if known is not None and at - known[0] < FINGERPRINT_SECONDS:
            return known[1]
    files = _stat_files(kind, extra_dir)
    with _FINGERPRINT_LOCK:
        _FINGERPRINTS[key] = (at, files)
    return files


def forget_fingerprints() -> None:
    """Look at the rule files again on the next load (tests that edit rules)."""
    with _FINGERPRINT_LOCK:
        _FINGERPRINTS.clear()


def _stat_files(kind: str, extra_dir: Path | None) -> Fingerprint:
    out = []
    for path in rule_files(kind, extra_dir):
        try:
            info = path.stat()
        except OSError:  # removed while we looked: the next load sees it gone
            continue
        out.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(out)


def load_rules(kind: str, extra_dir: Path | None = None) -> tuple[Rule, ...]:
    """All rules of `kind`: built-in, then those in `extra_dir`, sorted by id; read again
    when a rule file changed since the last load."""
    return _load_rules(kind, extra_dir, fingerprint(kind, extra_dir))


def ruleset_hash(extra_dir: Path | None = None) -> str:
    """sha256 over every rule file's name and content (static and runtime) and the ATT&CK
    technique catalogue: two scans with the same hash judged by the same rules."""
    return _ruleset_hash(extra_dir, fingerprint("static", extra_dir), fingerprint("runtime"))


@lru_cache(maxsize=16)
def _ruleset_hash(extra_dir: Path | None, *fingerprints: Fingerprint) -> str:
    digest = hashlib.sha256()
    for files in fingerprints:
        for name, _, _ in files:
            path = Path(name)
            digest.update(f"{path.parent.name}/{path.name}\0".encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                continue
            digest.update(b"\0")
    # the technique catalogue decides the ids findings carry: a new one judges differently
    digest.update(b"attack/catalogue.json\0" + catalogue_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=16)
def _load_rules(kind: str, extra_dir: Path | None, files: Fingerprint) -> tuple[Rule, ...]:
    rules: dict[str, Rule] = {}
    for name, _, _ in files:
        path = Path(name)
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
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    # ValueError: PyYAML's int resolver on a scalar such as "0x_"; RecursionError: nesting
    except (OSError, yaml.YAMLError, ValueError, RecursionError) as error:
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
