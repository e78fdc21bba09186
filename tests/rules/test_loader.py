"""Rule files load with validated metadata; bad ones fail at load with an error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from detonate.errors import RuleError
from detonate.model.findings import Category, Severity
from detonate.rules import load_rules
from detonate.rules.loader import load_rule_file

GOOD_YAML = """\
title: Executable in /tmp
why: droppers stage payloads there
severity: medium
confidence: medium
category: weaponization
technique: T1564.001
subject: file
match:
  path: {glob: ['/tmp/*']}
  executable: {is: true}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtin_static_rules_load_with_metadata() -> None:
    rules = load_rules("static")
    ids = [rule.meta.id for rule in rules]
    assert ids == sorted(ids)
    assert {"file-ld-so-preload", "xmrig-miner", "ioc-mining-pool"} <= set(ids)
    assert all(rule.meta.title and rule.meta.why for rule in rules)


def test_yaml_rule_metadata_is_parsed(tmp_path: Path) -> None:
    rule = load_rule_file(write(tmp_path, "tmp-exec.yaml", GOOD_YAML))
    assert rule.meta.id == "tmp-exec"
    assert rule.meta.severity is Severity.MEDIUM
    assert rule.meta.category is Category.WEAPONIZATION
    assert rule.subject == "file"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("category: weaponization", "category: persistence", "unknown category 'persistence'"),
        ("severity: medium", "severity: severe", "unknown severity 'severe'"),
        ("technique: T1564.001", "technique: 1564", "not an ATT&CK id"),
        ("why: droppers stage payloads there\n", "", "missing metadata why"),
        ("subject: file", "subject: packet", "unknown subject 'packet'"),
        ("executable: {is: true}", "exec: {is: true}", "unknown field 'exec'"),
        ("executable: {is: true}", "executable: {equals: true}", "unknown operator equals"),
        ("{glob: ['/tmp/*']}", "{regex: '(unclosed'}", "bad regex"),
        ("match:", "unles: []\nmatch:", "unknown key unles"),
        # PyYAML raises ValueError (not YAMLError) on these scalars, RecursionError on nesting
        ("severity: medium", "severity: 0x_", "cannot read rule"),
        ("severity: medium", "severity: " + "[" * 5000, "cannot read rule"),
    ],
)
def test_invalid_yaml_rule_is_refused_at_load(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in GOOD_YAML
    path = write(tmp_path, "tmp-exec.yaml", GOOD_YAML.replace(old, new))
    with pytest.raises(RuleError, match=message) as caught:
        load_rule_file(path)
    assert str(path) in caught.value.message


def test_rule_id_must_be_a_kebab_case_file_name(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not lower-case words"):
        load_rule_file(write(tmp_path, "Tmp_Exec.yaml", GOOD_YAML))


def test_yara_rule_name_must_match_file_name(tmp_path: Path) -> None:
    source = (
        'rule other_name { meta: title = "t" why = "w" severity = "low" confidence = "low" '
        'category = "propagation" technique = "T1046" condition: false }'
    )
    with pytest.raises(RuleError, match="exactly one YARA rule named 'scan_tool'"):
        load_rule_file(write(tmp_path, "scan-tool.yar", source))


def test_yara_rule_metadata_is_validated(tmp_path: Path) -> None:
    source = (
        'rule scan_tool {\n meta:\n  title = "t"\n  why = "w"\n  severity = "low"\n'
        '  confidence = "sure"\n  category = "propagation"\n  technique = "T1046"\n'
        " condition:\n  false\n}\n"
    )
    with pytest.raises(RuleError, match="unknown confidence 'sure'"):
        load_rule_file(write(tmp_path, "scan-tool.yar", source))


def test_extra_rules_join_builtin_ones_and_ids_stay_unique(tmp_path: Path) -> None:
    write(tmp_path, "my-tmp-exec.yaml", GOOD_YAML)
    ids = {rule.meta.id for rule in load_rules("static", tmp_path)}
    assert "my-tmp-exec" in ids and "file-ld-so-preload" in ids
    clash = tmp_path / "clash"
    clash.mkdir()
    write(clash, "file-ld-so-preload.yaml", GOOD_YAML)
    with pytest.raises(RuleError, match="already defined"):
        load_rules("static", clash)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(RuleError, match="unknown rule kind"):
        load_rules("dynamic")
