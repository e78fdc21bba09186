"""Rules are cached by the files' fingerprint, not for the life of the process: a service that
runs for weeks scans with the rules on disk, and the store's cache key names their content."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from detonate.rules.loader import (
    BUILTIN_DIR,
    forget_fingerprints,
    load_rules,
    ruleset_hash,
)
from detonate.static.yara_rules import compiled_rules

SOURCE = BUILTIN_DIR / "static" / "config-base64-decode.yaml"
YARA = """rule user_marker {
  meta:
    title = "User marker"
    why = "a test rule"
    severity = "low"
    confidence = "low"
    category = "weaponization"
    technique = "T1140"
  strings:
    $a = "user-marker-%s"
  condition:
    $a
}
"""


def _touch_later(path: Path) -> None:
    info = path.stat()  # a new mtime even on filesystems with coarse timestamps
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def test_an_edited_user_rule_is_loaded_again(tmp_path: Path) -> None:
    rule = tmp_path / "user-base64.yaml"
    shutil.copy(SOURCE, rule)
    first = {r.meta.id: r for r in load_rules("static", tmp_path)}["user-base64"]
    hash_before = ruleset_hash(tmp_path)
    rule.write_text(rule.read_text().replace("Command decodes base64", "Edited title"))
    _touch_later(rule)
    forget_fingerprints()
    second = {r.meta.id: r for r in load_rules("static", tmp_path)}["user-base64"]
    assert (first.meta.title, second.meta.title) == ("Command decodes base64", "Edited title")
    assert ruleset_hash(tmp_path) != hash_before


def test_an_added_and_a_removed_rule_are_seen(tmp_path: Path) -> None:
    assert "user-base64" not in {r.meta.id for r in load_rules("static", tmp_path)}
    shutil.copy(SOURCE, tmp_path / "user-base64.yaml")
    forget_fingerprints()
    assert "user-base64" in {r.meta.id for r in load_rules("static", tmp_path)}
    (tmp_path / "user-base64.yaml").unlink()
    forget_fingerprints()
    assert "user-base64" not in {r.meta.id for r in load_rules("static", tmp_path)}


def test_an_edited_yara_rule_is_compiled_again(tmp_path: Path) -> None:
    rule = tmp_path / "user-marker.yar"
    rule.write_text(YARA % "one")
    assert compiled_rules(tmp_path).scan.scan(b"..user-marker-one..").matching_rules
    rule.write_text(YARA % "two")
    _touch_later(rule)
    forget_fingerprints()
    rules = compiled_rules(tmp_path).scan
    assert not rules.scan(b"..user-marker-one..").matching_rules
    assert rules.scan(b"..user-marker-two..").matching_rules


def test_the_ruleset_hash_is_stable_while_nothing_changes() -> None:
    assert ruleset_hash() == ruleset_hash()
    forget_fingerprints()
    assert len(ruleset_hash()) == 64
