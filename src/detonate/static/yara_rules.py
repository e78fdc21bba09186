"""The YARA rules a scan runs, compiled once per rules directory and content, with the hash that
keys their cached results.

Rules are also compiled by size class. yara-x searches a file for patterns only when a condition
still needs them, but one rule set is searched for the patterns of all its rules: a 20 MB Go
binary paid for the atoms of eight script rules that all start with `filesize < 4MB and`. A rule
file whose every rule begins with such a bound, and has no top-level `or`, is left out of the
rule sets for larger files; anything else (a rule without a bound, a bound inside an `or`, a
string or regex in the condition, `global` or `include`) is in every class.

The indicator-candidate rule is a separate rule set, scanned over the head of a file only.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib.metadata import version
from pathlib import Path

import yara_x

from detonate.errors import RuleError
from detonate.rules.loader import Fingerprint, Rule, fingerprint, load_rules
from detonate.static.indicators import CANDIDATES_YARA

ENGINE = f"yara-x {version('yara-x')}"
UNITS = {"": 1, "KB": 1024, "MB": 1024 * 1024}
# `filesize < 4MB and …` at the start of a condition
LEADING_BOUND = re.compile(r"\s*filesize\s*<\s*(\d+)\s*(KB|MB)?\s+and\b(.*)", re.DOTALL)
RULE_DECLARATION = re.compile(r"^\s*(?:private\s+)?rule\s+\w+", re.MULTILINE)
CONDITION = re.compile(r"\bcondition\s*:(.*?)^\}", re.DOTALL | re.MULTILINE)
LINE_COMMENT = re.compile(r"(?m)(?:^|\s)//[^\n]*")


@dataclass(frozen=True)
class CompiledRules:
    scan: yara_x.Rules  # all the rule files
    indicators: yara_x.Rules  # the indicator candidates alone
    by_name: dict[str, Rule]  # YARA rule identifier → rule file
    ruleset_hash: str  # of the engine and every rule file's source, user rules included
    sources: tuple[tuple[int | None, str, str], ...] = ()  # (size bound, source, origin)
    _classes: dict[int, yara_x.Rules | None] = field(default_factory=dict, compare=False)

    def for_size(self, size: int) -> yara_x.Rules | None:
        """The rules that can match a file of `size` bytes (None: none can)."""
        bounds = self._bounds
        if not bounds:
            return self.scan
        at = bisect_right(bounds, size)  # the first bound above size …
        limit = bounds[at] if at < len(bounds) else 0  # … or 0: larger than every bound
        if limit not in self._classes:
            kept = [(s, o) for b, s, o in self.sources if b is None or size < b]
            if len(kept) == len(self.sources):  # every rule: the whole set, compiled already
                self._classes[limit] = self.scan
                return self.scan
            try:
                self._classes[limit] = _build(kept) if kept else None
            except yara_x.CompileError:  # a kept rule uses a rule of a file left out
                self._classes[limit] = self.scan
        return self._classes[limit]

    def compile_size_classes(self) -> None:
        """Compile every size class now (a fleet worker before it forks its scan processes,
        which would each compile the classes their files need again: 0.1–0.5 s a scan)."""
        for bound in self._bounds:
            self.for_size(bound - 1)
        if self._bounds:
            self.for_size(self._bounds[-1])  # larger than every bound

    @cached_property
    def _bounds(self) -> tuple[int, ...]:
        return tuple(sorted({b for b, _, _ in self.sources if b is not None}))


def compiled_rules(extra_dir: Path | None = None) -> CompiledRules:
    """Compiled once per rules directory and content: an edited rule file (the loader's
    fingerprint) is compiled again on the next scan."""
    return _compiled(extra_dir, fingerprint("static", extra_dir))


@lru_cache(maxsize=4)
def _compiled(extra_dir: Path | None, files: Fingerprint) -> CompiledRules:
    by_name: dict[str, Rule] = {}
    compiler = yara_x.Compiler()
    digest = hashlib.sha256(ENGINE.encode())
    sources = []
    for rule in load_rules("static", extra_dir):
        if not rule.is_yara:
            continue
        try:
            compiler.add_source(rule.source, origin=str(rule.path))
        except yara_x.CompileError as error:
            raise RuleError(f"{rule.path}: YARA rule does not compile: {error}") from None
        by_name[rule.meta.id.replace("-", "_")] = rule
        sources.append((size_bound(rule.source), rule.source, str(rule.path)))
        for part in (rule.meta.id, rule.source):
            digest.update(part.encode() + b"\0")
    rules = compiler.build()
    indicators = _build([(CANDIDATES_YARA, "indicator candidates")])
    return CompiledRules(rules, indicators, by_name, digest.hexdigest(), tuple(sources))


def size_bound(source: str) -> int | None:
    """The file size below which every rule of this YARA source can match, when each of its
    conditions starts with `filesize < N and` and has no top-level `or`; None otherwise."""
    if re.search(r"\b(global|include)\b", source):
        return None
    conditions = CONDITION.findall(source)
    if not conditions or len(conditions) != len(RULE_DECLARATION.findall(source)):
        return None
    bounds = []
    for condition in conditions:
        text = LINE_COMMENT.sub("", condition)
        match = LEADING_BOUND.match(text)
        if match is None or '"' in text or "/" in text or _has_top_level_or(match.group(3)):
            return None
        bounds.append(int(match.group(1)) * UNITS[match.group(2) or ""])
    return max(bounds)


def _has_top_level_or(text: str) -> bool:
    depth = 0
    for token in re.findall(r"[()]|\bor\b", text):
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth <= 0:
            return True
    return False


def _build(sources: list[tuple[str, str]]) -> yara_x.Rules:
    compiler = yara_x.Compiler()
    for source, origin in sources:
        compiler.add_source(source, origin=origin)
    return compiler.build()
