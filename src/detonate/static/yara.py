"""YARA rules (yara-x) over the regular files of the rootfs, each read once and size-capped.

Rules are compiled once per rules directory and content (the loader's fingerprint: an edited
rule is compiled again on the next scan). Files with the same sha256 are scanned
once. Reading and scanning run on a few threads: most of the time is spent waiting for the disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yara_x

from detonate.errors import RuleError
from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.findings import Evidence
from detonate.model.image import AcquiredImage
from detonate.model.options import StaticOptions
from detonate.progress import Progress
from detonate.rules.loader import Fingerprint, Rule, fingerprint, load_rules
from detonate.static.file_reading import read_head
from detonate.static.interface import AnalyzerResult
from detonate.static.rule_hits import RuleHits, excerpt

WORKERS = min(4, os.cpu_count() or 1)
SCAN_TIMEOUT_SECONDS = 30
EXCERPT_BYTES = 160


@dataclass(frozen=True)
class CompiledRules:
    rules: yara_x.Rules
    by_name: dict[str, Rule]  # YARA rule identifier → rule file


def compiled_rules(extra_dir: Path | None = None) -> CompiledRules:
    return _compiled(extra_dir, fingerprint("static", extra_dir))


@lru_cache(maxsize=4)
def _compiled(extra_dir: Path | None, files: Fingerprint) -> CompiledRules:
    by_name: dict[str, Rule] = {}
    compiler = yara_x.Compiler()
    for rule in load_rules("static", extra_dir):
        if not rule.is_yara:
            continue
        try:
            compiler.add_source(rule.source, origin=str(rule.path))
        except yara_x.CompileError as error:
            raise RuleError(f"{rule.path}: YARA rule does not compile: {error}") from None
        by_name[rule.meta.id.replace("-", "_")] = rule
    return CompiledRules(compiler.build(), by_name)


@dataclass(frozen=True)
class FileMatch:
    rule: Rule
    excerpt: str


class YaraAnalyzer:
    name = "yara"

    def analyze(
        self, image: AcquiredImage, rootfs: Rootfs, options: StaticOptions, progress: Progress
    ) -> AnalyzerResult:
        compiled = compiled_rules(options.extra_rules_dir)
        if not compiled.by_name:
            return AnalyzerResult()
        groups = _files_by_content(rootfs, options.yara_max_file_bytes)
        local = threading.local()

        def scan(entries: list[FileEntry]) -> tuple[list[FileEntry], list[FileMatch]]:
            if not hasattr(local, "scanner"):
                local.scanner = yara_x.Scanner(compiled.rules)
                local.scanner.set_timeout(SCAN_TIMEOUT_SECONDS)
            data = read_head(rootfs, entries[0], options.yara_max_file_bytes)
            if not data:
                return entries, []
            try:
                results = local.scanner.scan(data)
            except (yara_x.TimeoutError, yara_x.ScanError):
                return entries, []
            return entries, list(_file_matches(results, compiled, data))

        hits = RuleHits("static:yara")
        task = "static: yara"
        progress.start(task, total=sum(e[0].size for e in groups), unit="bytes")
        with ThreadPoolExecutor(WORKERS) as pool:
            for entries, matches in pool.map(scan, groups, chunksize=16):
                progress.advance(task, entries[0].size)
                for match in matches:
                    for entry in entries:
                        hits.add(match.rule, _evidence(entry, match.excerpt))
        progress.finish(task)
        return AnalyzerResult(findings=hits.findings())


def _files_by_content(rootfs: Rootfs, max_bytes: int) -> list[list[FileEntry]]:
    """Regular, non-empty files up to `max_bytes`, grouped by sha256 (scanned once per group)."""
    groups: dict[str, list[FileEntry]] = {}
    for entry in rootfs.entries:
        if entry.type is FileType.FILE and 0 < entry.size <= max_bytes:
            groups.setdefault(entry.sha256 or entry.path, []).append(entry)
    return list(groups.values())


def _file_matches(
    results: yara_x.ScanResults, compiled: CompiledRules, data: bytes
) -> Iterator[FileMatch]:
    for matched in results.matching_rules:
        rule = compiled.by_name.get(matched.identifier)
        if rule is None:
            continue
        yield FileMatch(rule, _pattern_excerpt(matched, data))


def _pattern_excerpt(matched: yara_x.Rule, data: bytes) -> str:
    """The bytes of the longest first match among the rule's patterns (a command line says more
    than the "#!" a condition also required), shown as text."""
    firsts = [pattern.matches[0] for pattern in matched.patterns if pattern.matches]
    if not firsts:
        return ""
    best = max(firsts, key=lambda m: m.length)
    raw = data[best.offset : best.offset + min(best.length, EXCERPT_BYTES)]
    return excerpt("".join(ch if ch.isprintable() else "." for ch in raw.decode("latin-1")))


def _evidence(entry: FileEntry, text: str) -> Evidence:
    return Evidence(
        description=f"YARA match in a {entry.size}-byte file",
        path=entry.path,
        layer_index=entry.layer_index,
        sha256=entry.sha256,
        excerpt=text,
    )
