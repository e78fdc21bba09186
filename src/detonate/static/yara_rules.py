"""The YARA rules a scan runs, compiled once per process and rules directory, with the hash that
keys their cached results.

Two rule sets: `scan` holds the rule files, `indicators` the indicator-candidate rule, scanned
over the head of a file only (IOCs come from its first FILE_BYTES).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import yara_x

from detonate.errors import RuleError
from detonate.rules.loader import Rule, load_rules
from detonate.static.indicators import CANDIDATES_YARA

ENGINE = f"yara-x {version('yara-x')}"


@dataclass(frozen=True)
class CompiledRules:
    scan: yara_x.Rules  # the rule files
    indicators: yara_x.Rules  # the indicator candidates alone
    by_name: dict[str, Rule]  # YARA rule identifier → rule file
    ruleset_hash: str  # of the engine and every rule file's source, user rules included


@lru_cache(maxsize=4)
def compiled_rules(extra_dir: Path | None = None) -> CompiledRules:
    by_name: dict[str, Rule] = {}
    compiler = yara_x.Compiler()
    digest = hashlib.sha256(ENGINE.encode())
    for rule in load_rules("static", extra_dir):
        if not rule.is_yara:
            continue
        try:
            compiler.add_source(rule.source, origin=str(rule.path))
        except yara_x.CompileError as error:
            raise RuleError(f"{rule.path}: YARA rule does not compile: {error}") from None
        by_name[rule.meta.id.replace("-", "_")] = rule
        for part in (rule.meta.id, rule.source):
            digest.update(part.encode() + b"\0")
    indicators = yara_x.Compiler()
    indicators.add_source(CANDIDATES_YARA, origin="indicator candidates")
    return CompiledRules(compiler.build(), indicators.build(), by_name, digest.hexdigest())
