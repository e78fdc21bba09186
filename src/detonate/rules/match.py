"""The match language of YAML rules, interpreted over any subject (a file, a config item, an IOC,
later a runtime event). A subject is anything with `get(field) -> value | None`.

    match:                              # every field test must hold (AND)
      path: {glob: ["/tmp/*", "/dev/shm/*"]}
      executable: {is: true}
      content: {regex: '(curl|wget)[^|]*\\|\\s*(ba)?sh'}
    unless:                             # any one clause that fully holds vetoes the match
      - path: {in: [/usr/bin/passwd, /bin/su]}
      - name: {glob: ["*.sample"], nocase: true}

Operators (several in one test must all hold): `is` (equality), `in` (one of a list), `glob`
(fnmatch, one pattern or a list), `regex` (re.search, one or a list; the matched text becomes
the evidence excerpt), `bits` (any of these mode bits, e.g. "0o6000"), `min` / `max` (integers),
`nocase: true` (lower-cases value and patterns for `in` and `glob`). A list-valued field holds
when any element does. An absent field never holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import translate
from typing import Protocol

from detonate.errors import RuleError

OPERATORS = frozenset({"is", "in", "glob", "regex", "bits", "min", "max", "nocase"})


class Subject(Protocol):
    def get(self, field: str) -> object: ...


@dataclass(frozen=True)
class Hit:
    """A subject matched; `excerpts` are the texts its regexes matched, in test order."""

    excerpts: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldTest:
    """One field's operators, compiled: `checks` are cheap predicates run in order, `regexes`
    (any of them) run last and give the excerpt."""

    field: str
    checks: tuple[Callable[[object], bool], ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()

    def holds(self, value: object) -> tuple[bool, str]:
        """Whether `value` passes every operator; second item is the regex-matched text."""
        if value is None:
            return False, ""
        if isinstance(value, list | tuple):
            for element in value:
                ok, excerpt = self.holds(element)
                if ok:
                    return True, excerpt
            return False, ""
        for check in self.checks:
            if not check(value):
                return False, ""
        if not self.regexes:
            return True, ""
        text = value if isinstance(value, str) else str(value)
        for regex in self.regexes:
            found = regex.search(text)
            if found:
                return True, found.group(0)
        return False, ""


@dataclass(frozen=True)
class Matcher:
    """`tests` all hold and no `unless` clause fully holds. Tests and clauses on late (costly)
    fields run after the cheap ones, so a vetoed subject never pays for them."""

    tests: tuple[FieldTest, ...]
    unless: tuple[tuple[FieldTest, ...], ...] = ()
    late_fields: frozenset[str] = frozenset()

    def evaluate(self, subject: Subject) -> Hit | None:
        excerpts: list[str] = []
        for late in (False, True):
            for test in self.tests:
                if (test.field in self.late_fields) is not late:
                    continue
                ok, excerpt = test.holds(subject.get(test.field))
                if not ok:
                    return None
                if excerpt:
                    excerpts.append(excerpt)
            for clause in self.unless:
                if any(t.field in self.late_fields for t in clause) is not late:
                    continue
                if all(t.holds(subject.get(t.field))[0] for t in clause):
                    return None
        return Hit(tuple(excerpts))

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(t.field for t in self.tests) | {
            t.field for clause in self.unless for t in clause
        }


def compile_matcher(
    match: object,
    unless: object,
    fields: Collection[str],
    origin: str,
    late_fields: Collection[str] = (),
) -> Matcher:
    """Compile a rule's `match` and `unless`; errors name `origin`. Tests on `late_fields`
    (expensive ones, like file content) run after all the others."""
    if not isinstance(match, Mapping) or not match:
        raise RuleError(f"{origin}: 'match' must be a non-empty mapping of field: {{op: value}}")
    tests = _compile_clause(match, fields, origin)
    clauses: list[tuple[FieldTest, ...]] = []
    if unless is not None:
        if not isinstance(unless, list):
            raise RuleError(f"{origin}: 'unless' must be a list of clauses like 'match'")
        for clause in unless:
            if not isinstance(clause, Mapping) or not clause:
                raise RuleError(f"{origin}: every 'unless' clause must be a non-empty mapping")
            clauses.append(_compile_clause(clause, fields, origin))
    return Matcher(tests, tuple(clauses), frozenset(late_fields))


def _compile_clause(
    clause: Mapping[object, object], fields: Collection[str], origin: str
) -> tuple[FieldTest, ...]:
    tests = []
    for field, spec in clause.items():
        if field not in fields:
            raise RuleError(
                f"{origin}: unknown field {field!r}",
                f"fields of this subject: {', '.join(sorted(fields))}",
            )
        tests.append(_compile_test(str(field), spec, origin))
    return tuple(tests)


def _compile_test(field: str, spec: object, origin: str) -> FieldTest:
    where = f"{origin}: field {field!r}"
    if not isinstance(spec, Mapping) or not spec:
        raise RuleError(f"{where} needs a mapping of operators, e.g. {{glob: ['/tmp/*']}}")
    unknown = set(map(str, spec)) - OPERATORS
    if unknown:
        raise RuleError(
            f"{where}: unknown operator {', '.join(sorted(unknown))}",
            f"operators: {', '.join(sorted(OPERATORS))}",
        )
    nocase = bool(spec.get("nocase", False))
    checks: list[Callable[[object], bool]] = []
    if "is" in spec:
        expected = spec["is"]
        checks.append(lambda value: _same(value, expected))
    if "min" in spec or "max" in spec or "bits" in spec:
        low = _number(spec["min"], where) if "min" in spec else None
        high = _number(spec["max"], where) if "max" in spec else None
        bits = _number(spec.get("bits", 0), where)
        checks.append(lambda value: _in_range(value, low, high, bits))
    if "in" in spec:
        members = frozenset(str(v).lower() if nocase else str(v) for v in _strings(spec["in"]))
        if nocase:
            checks.append(lambda value: str(value).lower() in members)
        else:
            checks.append(lambda value: str(value) in members)
    globs = _strings(spec.get("glob"))
    if globs:
        # All globs as one regex: one C-level match instead of a Python loop of fnmatch calls.
        glob_regex = re.compile("|".join(translate(g) for g in globs), re.I if nocase else 0)
        checks.append(lambda value: glob_regex.match(str(value)) is not None)
    try:
        regexes = tuple(re.compile(str(p)) for p in _strings(spec.get("regex")))
    except re.error as error:
        raise RuleError(f"{where}: bad regex: {error}") from None
    return FieldTest(field=field, checks=tuple(checks), regexes=regexes)


def _in_range(value: object, low: int | None, high: int | None, bits: int) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    if low is not None and value < low:
        return False
    if high is not None and value > high:
        return False
    return not bits or bool(value & bits)


def _strings(value: object) -> Sequence[str]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _number(value: object, where: str) -> int:
    """Numbers may be written as YAML ints or as strings with a base prefix ("0o6000")."""
    if isinstance(value, bool):
        raise RuleError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        raise RuleError(f"{where}: expected a number, got {value!r}") from None


def _same(value: object, expected: object) -> bool:
    # `is: true` must not hold for the integer 1, nor `is: 0` for False.
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value is expected
    return value == expected or str(value) == str(expected)
