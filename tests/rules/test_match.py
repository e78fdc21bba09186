"""The YAML match language over plain subjects (a dict with `get`)."""

from __future__ import annotations

import pytest

from detonate.errors import RuleError
from detonate.rules.match import compile_matcher

FIELDS = ("path", "mode", "argv", "flag", "content")


def matcher(match: object, unless: object = None):  # type: ignore[no-untyped-def]
    return compile_matcher(match, unless, FIELDS, "test.yaml", late_fields=("content",))


def test_all_tests_must_hold_and_unless_vetoes() -> None:
    m = matcher(
        {"path": {"glob": ["/usr/bin/*"]}, "mode": {"bits": "0o4000"}},
        [{"path": {"in": ["/usr/bin/passwd"]}}],
    )
    assert m.evaluate({"path": "/usr/bin/find", "mode": 0o4755})
    assert m.evaluate({"path": "/usr/bin/find", "mode": 0o755}) is None
    assert m.evaluate({"path": "/usr/bin/passwd", "mode": 0o4755}) is None
    assert m.evaluate({"mode": 0o4755}) is None  # an absent field never holds


def test_regex_match_becomes_the_excerpt() -> None:
    hit = matcher({"content": {"regex": r"curl \S+ \| sh"}}).evaluate(
        {"content": "x=1\ncurl http://x.test | sh\n"}
    )
    assert hit is not None and hit.excerpts == ("curl http://x.test | sh",)


def test_list_fields_hold_when_any_element_does_and_nocase_folds() -> None:
    m = matcher({"argv": {"in": ["XMRig"], "nocase": True}})
    assert m.evaluate({"argv": ["./xmrig", "xmrig"]})
    assert m.evaluate({"argv": ["./miner"]}) is None


def test_is_true_does_not_hold_for_one_and_min_max_bound_numbers() -> None:
    assert matcher({"flag": {"is": True}}).evaluate({"flag": 1}) is None
    m = matcher({"mode": {"min": 1, "max": 10}})
    assert m.evaluate({"mode": 5}) and m.evaluate({"mode": 11}) is None


def test_late_fields_are_read_last() -> None:
    reads: list[str] = []

    class Subject:
        def get(self, field: str) -> object:
            reads.append(field)
            return "/etc/x" if field == "path" else "text"

    m = matcher({"content": {"regex": "t"}, "path": {"glob": ["/tmp/*"]}})
    assert m.evaluate(Subject()) is None
    assert reads == ["path"]


def test_bad_specs_are_rule_errors() -> None:
    with pytest.raises(RuleError, match="non-empty mapping"):
        matcher({})
    with pytest.raises(RuleError, match="expected a number"):
        matcher({"mode": {"bits": "setuid"}})
    with pytest.raises(RuleError, match="needs a mapping of operators"):
        matcher({"path": "/tmp/*"})
