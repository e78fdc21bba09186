"""File rules split where their cost is: the tests on names, paths, modes and ownership run on
every entry of every scan; the regexes over `content` depend on the bytes alone and are cached
by the file's sha256, one cache key per rule (its id and content patterns), so a changed rule
re-reads exactly the files its other tests let through.

    match: {name: {glob: "*.env"}, owned: {is: false}, content: {regex: "TOKEN=…"}}
           └──────── index part, every scan ──────────┘ └─ content part, cached ─┘

A rule with `content` in an `unless` clause, or with non-regex operators on `content`, is not
split: it is evaluated whole, as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from detonate.rules.loader import Rule
from detonate.rules.match import FieldTest, Matcher
from detonate.static.result_cache import ResultCache, ResultKey

CONTENT_FIELD = "content"
CONTENT_VERSION = "1 head=65536"  # bump with files.CONTENT_BYTES or how content is decoded

ContentOutcome = tuple[bool, tuple[str, ...]]  # all content tests held, their excerpts


@dataclass(frozen=True)
class SplitRule:
    rule: Rule
    index_part: Matcher
    content_tests: tuple[FieldTest, ...]
    key: ResultKey

    def content_outcome(self, content: str) -> ContentOutcome:
        excerpts = []
        for test in self.content_tests:
            ok, text = test.holds(content)
            if not ok:
                return False, ()
            if text:
                excerpts.append(text)
        return True, tuple(excerpts)


def split_rule(rule: Rule) -> SplitRule | None:
    matcher = rule.matcher
    assert matcher is not None
    content = tuple(t for t in matcher.tests if t.field == CONTENT_FIELD)
    if not content or any(t.checks for t in content):
        return None
    if any(t.field == CONTENT_FIELD for clause in matcher.unless for t in clause):
        return None
    index_part = Matcher(
        tuple(t for t in matcher.tests if t.field != CONTENT_FIELD),
        matcher.unless,
        matcher.late_fields,
    )
    digest = hashlib.sha256(rule.meta.id.encode() + b"\0")
    for test in content:
        for regex in test.regexes:
            digest.update(f"{regex.flags}:{regex.pattern}\0".encode())
    return SplitRule(
        rule, index_part, content, ResultKey("files", CONTENT_VERSION, digest.hexdigest())
    )


class ContentOutcomes:
    """The content part's outcome per (rule, content), from the cache or computed once."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.known: dict[tuple[str, str], ContentOutcome] = {}

    def load(self, split: SplitRule, digests: Iterable[str]) -> list[str]:
        """Read the cached outcomes of `split` for `digests`; returns the digests still unknown."""
        cache = ResultCache(self.directory, split.key)
        wanted = set(digests)
        try:
            for digest, value in cache.get_many(wanted).items():
                if isinstance(value, list) and len(value) == 2:
                    self.known[(split.rule.meta.id, digest)] = (
                        bool(value[0]),
                        tuple(str(v) for v in value[1]),
                    )
        finally:
            cache.close()
        return sorted(d for d in wanted if (split.rule.meta.id, d) not in self.known)

    def store(self, split: SplitRule, outcomes: dict[str, ContentOutcome]) -> None:
        for digest, outcome in outcomes.items():
            self.known[(split.rule.meta.id, digest)] = outcome
        cache = ResultCache(self.directory, split.key)
        try:
            cache.put_many({d: [ok, list(texts)] for d, (ok, texts) in outcomes.items()})
        finally:
            cache.close()
