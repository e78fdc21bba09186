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
the evidence excerpt), `bits` (any of these mode bits, e.g. "0o6000"), `min` / `max` (numbers),
`nocase: true` (lower-cases value and patterns for `in` and `glob`). A list-valued field holds
when any element does. An absent field never holds.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
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
    field: str
    equals: tuple[object, ...] = ()  # empty, or exactly one expected value
    one_of: frozenset[str] | None = None
    globs: tuple[str, ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    bits: int = 0
    minimum: float | None = None
    maximum: float | None = None
    nocase: bool = False

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
        return self._holds_scalar(value)

    def _holds_scalar(self, value: object) -> tuple[bool, str]:
        if self.equals and not _same(value, self.equals[0]):
            return False, ""
        if (self.minimum is not None or self.maximum is not None or self.bits) and not (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            return False, ""
        if isinstance(value, int | float):
            if self.minimum is not None and value < self.minimum:
                return False, ""
            if self.maximum is not None and value > self.maximum:
                return False, ""
            if self.bits and not (int(value) & self.bits):
                return False, ""
        text = str(value).lower() if self.nocase else str(value)
        if self.one_of is not None and text not in self.one_of:
            return False, ""
        if self.globs and not any(fnmatchcase(text, glob) for glob in self.globs):
            return False, ""
        excerpt = ""
        if self.regexes:
            for regex in self.regexes:
                found = regex.search(str(value))
                if found:
                    excerpt = found.group(0)
                    break
            else:
                return False, ""
        return True, excerpt


@dataclass(frozen=True)
class Matcher:
    tests: tuple[FieldTest, ...]
    unless: tuple[tuple[FieldTest, ...], ...] = ()

    def evaluate(self, subject: Subject) -> Hit | None:
        excerpts: list[str] = []
        for test in self.tests:
            ok, excerpt = test.holds(subject.get(test.field))
            if not ok:
                return None
            if excerpt:
                excerpts.append(excerpt)
        for clause in self.unless:
            if all(test.holds(subject.get(test.field))[0] for test in clause):
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
    tests = tuple(sorted(tests, key=lambda t: t.field in late_fields))
    clauses: list[tuple[FieldTest, ...]] = []
    if unless is not None:
        if not isinstance(unless, list):
            raise RuleError(f"{origin}: 'unless' must be a list of clauses like 'match'")
        for clause in unless:
            if not isinstance(clause, Mapping) or not clause:
                raise RuleError(f"{origin}: every 'unless' clause must be a non-empty mapping")
            clauses.append(_compile_clause(clause, fields, origin))
    return Matcher(tests, tuple(clauses))


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

    def fold(text: object) -> str:
        return str(text).lower() if nocase else str(text)

    try:
        regexes = tuple(re.compile(str(p)) for p in _strings(spec.get("regex")))
    except re.error as error:
        raise RuleError(f"{where}: bad regex: {error}") from None
    return FieldTest(
        field=field,
        equals=(spec["is"],) if "is" in spec else (),
        one_of=frozenset(fold(v) for v in _strings(spec["in"])) if "in" in spec else None,
        globs=tuple(fold(g) for g in _strings(spec.get("glob"))),
        regexes=regexes,
        bits=_number(spec.get("bits", 0), where),
        minimum=_number(spec["min"], where) if "min" in spec else None,
        maximum=_number(spec["max"], where) if "max" in spec else None,
        nocase=nocase,
    )


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
