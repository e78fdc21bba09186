"""SARIF 2.1.0 given hostile strings everywhere an image can put them.

Contract, every input: `dumps` gives JSON text that reads back to exactly what `render` builds
(every hostile string round-trips, lone surrogates included: the writers encode with
backslashreplace), and the log validates against the vendored SARIF schema.

Schema validation is ¾ of an input's time, so while fuzzing (`fuzz_harness.SAMPLING`) a log is
validated when its *shape* is new, and every `FULL_EVERY`-th input anyway. The shape is the
log with every string replaced by the number of its first occurrence (so which strings are
equal is kept, for `uniqueItems`), except strings under a property the schema constrains by
`enum` or `pattern`, which are kept as they are. With this schema and jsonschema's format
checker (no `format` it checks occurs in the schema, and there is no `minLength`/`maxLength`)
two logs of one shape are valid or invalid together, so skipping a seen shape loses nothing;
`_shape_is_exact()` checks those premises once and, if one fails, every log is validated.
The regression tests and the seeds (SAMPLING off) validate every log.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from functools import cache
from typing import Any

import fuzz_harness
import jsonschema
from fuzz_harness import check
from fuzz_report_input import hostile_report
from fuzz_report_input import seeds as report_seeds

from detonate.report import sarif

TIME_BOUND = 10.0
FULL_EVERY = 64
_shapes: set[Hashable] = set()
_inputs = 0


def seeds() -> Iterator[bytes]:
    yield from report_seeds()


@cache
def _constrained() -> frozenset[str]:
    """Property names whose string values (or items) the schema limits by enum or pattern."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, spec in (node.get("properties") or {}).items():
                if isinstance(spec, dict):
                    items = spec.get("items") if isinstance(spec.get("items"), dict) else {}
                    if {"enum", "pattern"} & (set(spec) | set(items)):
                        names.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(sarif.schema())
    return frozenset(names)


@cache
def _shape_is_exact() -> bool:
    text = json.dumps(sarif.schema())
    checked = jsonschema.validators.validator_for(sarif.schema()).FORMAT_CHECKER.checkers
    formats = {name for name in checked if f'"format": "{name}"' in text}
    unsupported = ("minLength", "maxLength", "patternProperties", "not", "dependencies")
    return not formats and not any(f'"{keyword}"' in text for keyword in unsupported)


def shape(log: Any) -> Hashable:
    """`log` with its free strings numbered by first occurrence (see the module docstring)."""
    numbers: dict[str, int] = {}
    constrained = _constrained()

    def walk(node: Any, keep: bool) -> Hashable:
        if isinstance(node, str):
            return ("kept", node) if keep else ("free", numbers.setdefault(node, len(numbers)))
        if isinstance(node, dict):
            return ("dict", tuple((k, walk(v, k in constrained)) for k, v in node.items()))
        if isinstance(node, list):
            return ("list", tuple(walk(v, keep) for v in node))
        return (type(node).__name__, node)

    return walk(log, False)


def fuzz(data: bytes) -> None:
    global _inputs
    report = hostile_report(data)
    document = sarif.dumps(report)
    log = json.loads(document)
    check(log == sarif.render(report), "dumps() does not read back to what render() built")
    check(log["runs"][0]["results"][0]["ruleId"] == "stratum-login", "results lost")
    _inputs += 1
    if fuzz_harness.SAMPLING and _shape_is_exact() and _inputs % FULL_EVERY:
        key = shape(log)
        if key in _shapes:
            return
        _shapes.add(key)
    sarif.validate(log)
