"""`.detonateignore`: which findings a team accepted, by rule id and optionally path or process."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from detonate.errors import UsageError
from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.verdict.suppress import (
    apply_suppressions,
    find_ignore_file,
    load_suppressions,
    parse_suppressions,
)


def finding(rule_id: str, *evidence: Evidence) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=rule_id,
        category=Category.WEAPONIZATION,
        technique="T1564",
        severity=Severity.MEDIUM,
        confidence=Confidence.MEDIUM,
        source="runtime:rules",
        evidence=evidence,
    )


TMP_BUILD = Evidence("exec /tmp/build-1/cc", path="/tmp/build-1/cc", process=("make all",))
TMP_PAYLOAD = Evidence("exec /tmp/x", path="/tmp/x", process=("sh -c /tmp/x",))


def test_line_format_reads_rule_options_and_reason() -> None:
    (entry,) = parse_suppressions(
        "# reviewed 2024-05\n\nexec-from-volatile-dir path=/tmp/build-* process=make*  # builds\n",
        ".detonateignore",
    )
    assert (entry.rule, entry.path, entry.process, entry.reason, entry.origin) == (
        "exec-from-volatile-dir",
        "/tmp/build-*",
        "make*",
        "builds",
        ".detonateignore:3",
    )


def test_yaml_format_reads_the_same_fields() -> None:
    (entry,) = parse_suppressions(
        "suppress:\n  - rule: file-private-key\n    path: /etc/ssl/*\n    reason: test key\n",
        "ignore.yaml",
    )
    assert (entry.rule, entry.path, entry.process, entry.reason) == (
        "file-private-key",
        "/etc/ssl/*",
        "",
        "test key",
    )


@pytest.mark.parametrize(
    "text",
    [
        "exec-from-volatile-dir user=root\n",
        "suppress:\n  - path: /tmp/*\n",
        "suppress: nope\n",
        "rule one two\n",
    ],
)
def test_malformed_files_are_usage_errors_naming_the_place(text: str) -> None:
    with pytest.raises(UsageError, match="ignore"):
        parse_suppressions(text, "ignore")


def test_a_rule_only_entry_hides_every_finding_of_the_rule_and_globs_work() -> None:
    found = [
        finding("ioc-mining-pool", TMP_PAYLOAD),
        finding("exec-from-volatile-dir", TMP_PAYLOAD),
    ]
    result = apply_suppressions(found, parse_suppressions("ioc-*\n", "x"))
    assert [f.rule_id for f in result.kept] == ["exec-from-volatile-dir"]
    assert [f.rule_id for f in result.suppressed] == ["ioc-mining-pool"]


def test_a_path_entry_hides_only_matching_evidence_and_keeps_the_rest() -> None:
    original = finding("exec-from-volatile-dir", TMP_BUILD, TMP_PAYLOAD)
    result = apply_suppressions(
        [original], parse_suppressions("exec-from-volatile-dir path=/tmp/build-*\n", "x")
    )
    assert [e.path for e in result.kept[0].evidence] == ["/tmp/x"]
    assert [e.path for e in result.suppressed[0].evidence] == ["/tmp/build-1/cc"]


def test_a_finding_with_all_its_evidence_hidden_is_suppressed_whole() -> None:
    more = Evidence("… and 4 more events matched this rule")
    original = finding("exec-from-volatile-dir", TMP_BUILD, more)
    result = apply_suppressions(
        [original], parse_suppressions("exec-from-volatile-dir process=make*\n", "x")
    )
    assert (result.kept, result.suppressed) == ((), (original,))


def test_path_and_process_must_both_hold() -> None:
    original = finding("exec-from-volatile-dir", TMP_BUILD)
    suppressions = parse_suppressions(
        "exec-from-volatile-dir path=/tmp/build-* process=ninja*\n", "x"
    )
    assert apply_suppressions([original], suppressions).kept == (original,)


def test_the_default_file_is_found_in_the_directory_and_loaded(tmp_path: Path) -> None:
    assert find_ignore_file(tmp_path) is None
    (tmp_path / ".detonateignore").write_text("exec-sshd-start\n")
    found = find_ignore_file(tmp_path)
    assert found is not None
    assert [s.rule for s in load_suppressions(found)] == ["exec-sshd-start"]


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read suppression file"):
        load_suppressions(tmp_path / "absent")


def test_a_technique_suppression_written_with_a_v18_id_hides_its_successors_findings() -> None:
    """ATT&CK v19 made T1562.004 its own technique, T1686: the rules' findings carry T1686,
    and a suppression written before still hides them."""
    firewall = replace(finding("exec-firewall-disable", TMP_PAYLOAD), technique="T1686")
    tools = replace(finding("exec-security-agent-stop", TMP_PAYLOAD), technique="T1685")
    for text in (
        "*  technique=T1562.004  # our image manages its own firewall\n",
        "suppress:\n  - rule: '*'\n    technique: T1562.004\n",
        "*  technique=T1686\n",
    ):
        result = apply_suppressions([firewall, tools], parse_suppressions(text, "ignore"))
        assert result.suppressed == (firewall,), text
        assert result.kept == (tools,), text


def test_a_technique_suppression_takes_sub_techniques_and_leaves_other_rules() -> None:
    log_wipe = replace(finding("file-system-log-wipe", TMP_PAYLOAD), technique="T1685.006")
    (entry,) = parse_suppressions("file-*  technique=T1685\n", "ignore")
    assert entry.technique == "T1685"
    other_rule = replace(log_wipe, rule_id="exec-log-wipe")
    result = apply_suppressions([log_wipe, other_rule], [entry])
    assert result.suppressed == (log_wipe,)
    assert result.kept == (other_rule,)


def test_a_technique_that_is_not_an_attack_id_is_refused() -> None:
    with pytest.raises(UsageError, match="not an ATT&CK id"):
        parse_suppressions("*  technique=t1562.004\n", "ignore")
