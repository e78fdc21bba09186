"""The report_sarif target validates a log only when its shape is new (under the fuzzer): the
shape must keep everything the SARIF schema judges, so a skipped log is never an unchecked one."""

from __future__ import annotations

import copy

import fuzz_harness
import fuzz_report_sarif as target
import jsonschema
import pytest
from fuzz_report_input import hostile_report, seeds

from detonate.report import sarif


def seed_log() -> dict:
    return sarif.render(hostile_report(next(iter(seeds()))))


def test_the_shape_is_exact_for_the_vendored_schema():
    assert target._shape_is_exact()


def test_logs_differing_only_in_free_strings_share_a_shape():
    log = seed_log()
    other = copy.deepcopy(log)
    other["runs"][0]["results"][0]["message"]["text"] = "something else entirely"
    assert target.shape(log) == target.shape(other)


def test_a_string_the_schema_constrains_is_part_of_the_shape():
    log = seed_log()
    bad = copy.deepcopy(log)
    bad["runs"][0]["results"][0]["level"] = "catastrophic"  # not in the schema's enum
    assert target.shape(log) != target.shape(bad)
    with pytest.raises(jsonschema.ValidationError):
        sarif.validate(bad)


def test_which_strings_are_equal_is_part_of_the_shape():
    log = {"tags": ["a", "b"]}
    same = {"tags": ["a", "a"]}  # uniqueItems judges this one
    assert target.shape(log) != target.shape(same)
    assert target.shape({"n": 0}) != target.shape({"n": "x"})  # a string is not a number


def test_under_the_fuzzer_a_log_of_a_new_shape_is_validated(monkeypatch):
    monkeypatch.setattr(fuzz_harness, "SAMPLING", True)
    monkeypatch.setattr(target, "_shapes", set())
    monkeypatch.setattr(target, "_inputs", 0)
    broken = sarif.render

    def render_bad_level(report):
        log = broken(report)
        log["runs"][0]["results"][0]["level"] = "catastrophic"
        return log

    target.fuzz(next(iter(seeds())))  # a valid log: its shape is now known
    monkeypatch.setattr(sarif, "render", render_bad_level)
    with pytest.raises(jsonschema.ValidationError):
        target.fuzz(next(iter(seeds())))
