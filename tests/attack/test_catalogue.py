"""ATT&CK ids: findings carry the current release's ids; the ids rules, suppressions and corpus
expectations were written with (v18) still name the same techniques."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from detonate.attack import attack_version, current_id, matches, previous_ids, technique
from detonate.rules import load_rules
from detonate.rules.loader import BUILTIN_DIR, load_rule_file

ROOT = Path(__file__).resolve().parents[2]
TECHNIQUE_FIELD = re.compile(r"""^\s*technique\s*[:=]\s*"?(T\d{4}(?:\.\d{3})?)"?""", re.M)
EXPECTATIONS = (
    ROOT / "samples" / "scenarios" / "EXPECTED.yaml",
    ROOT / "samples" / "wild" / "EXPECTED.yaml",
    ROOT / "samples" / "variants" / "VARIANTS.yaml",
)


def written_rule_ids() -> dict[str, str]:
    """{rule file name: the technique id as written in the file}."""
    written = {}
    for path in sorted(BUILTIN_DIR.glob("*/*")):
        found = TECHNIQUE_FIELD.search(path.read_text())
        if found:
            written[path.name] = found.group(1)
    return written


def expected_ids() -> set[str]:
    ids: set[str] = set()
    for path in EXPECTATIONS:
        for entry in yaml.safe_load(path.read_text())["scenarios"].values():
            ids |= set(entry.get("techniques") or ()) | set(entry.get("related") or ())
    return ids


def test_the_catalogue_says_which_release_and_renumbers_defence_evasion() -> None:
    assert attack_version() == "19"
    assert current_id("T1562.004") == "T1686"
    assert current_id("T1562.001") == "T1685"
    assert current_id("T1070.002") == "T1685.006"
    known = technique("T1562.004")
    assert known is not None
    assert (known.id, known.name) == ("T1686", "Disable or Modify System Firewall")
    assert previous_ids("T1686") == ("T1562.004",)


def test_unchanged_and_unknown_ids_are_kept_as_they_are() -> None:
    assert current_id("T1496") == "T1496"
    assert previous_ids("T1496") == ()
    assert current_id("T9999") == "T9999"  # not in the catalogue: passed through, not dropped
    assert technique("T9999") is None


def test_every_id_a_builtin_rule_is_written_with_is_in_the_catalogue() -> None:
    """A rule with an id the catalogue lacks would report it untranslated and unnamed: rerun
    scripts/gen-attack-catalogue after adding one."""
    written = written_rule_ids()
    assert len(written) > 100
    missing = {name: tid for name, tid in written.items() if technique(tid) is None}
    assert not missing, f"not in src/detonate/attack/catalogue.json: {missing}"


def test_every_corpus_expectation_id_is_in_the_catalogue() -> None:
    missing = sorted(tid for tid in expected_ids() if technique(tid) is None)
    assert not missing, f"not in src/detonate/attack/catalogue.json: {missing}"


def test_rules_written_with_v18_ids_give_findings_with_current_ids() -> None:
    written = written_rule_ids()
    assert written["exec-firewall-disable.yaml"] == "T1562.004"
    loaded = {r.meta.id: r.meta.technique for r in load_rules("runtime")}
    assert loaded["exec-firewall-disable"] == "T1686"
    assert loaded["file-system-log-wipe"] == "T1685.006"
    static = {r.meta.id: r.meta.technique for r in load_rules("static")}
    assert static["competitor-killer"] == "T1685"  # a YARA rule's meta goes the same way
    for name, tid in written.items():
        rule = load_rule_file(next(BUILTIN_DIR.glob(f"*/{name}")))
        assert rule.meta.technique == current_id(tid), name


def test_a_user_rule_written_with_a_previous_id_loads_and_reports_the_current_one(
    tmp_path: Path,
) -> None:
    text = (BUILTIN_DIR / "runtime" / "exec-firewall-disable.yaml").read_text()
    (tmp_path / "team-firewall-off.yaml").write_text(text)
    (rule,) = [r for r in load_rules("runtime", tmp_path) if r.meta.id == "team-firewall-off"]
    assert rule.meta.technique == "T1686"
    assert rule.meta.finding("runtime:rules", ()).technique == "T1686"


def test_a_previous_id_matches_the_findings_of_its_successor() -> None:
    assert matches("T1562.004", "T1686")
    assert matches("T1686", "T1686")
    assert matches("T1071", "T1071.001")  # a sub-technique satisfies its parent
    assert not matches("T1071.001", "T1071")  # not the reverse
    # v18's parent T1562 keeps its meaning: its old sub-technique T1562.004 is now T1686
    assert matches("T1562", "T1686")
    # the current T1685 is not v18's T1562: the firewall technique is not one of its subs
    assert not matches("T1685", "T1686")
    assert not matches("T1562.001", "T1686")


def test_corpus_expectations_in_v18_ids_are_met_by_findings_in_current_ids() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from scenarios.corpus import technique_found

    # t08-security-tampering expects T1562.001 and T1562.004 (v18)
    found = {"T1685", "T1686", "T1489"}
    assert technique_found("T1562.001", found)
    assert technique_found("T1562.004", found)
    assert not technique_found("T1562.004", {"T1685"})
    for tid in expected_ids():
        assert technique_found(tid, {current_id(tid)}), tid


def test_the_generator_reads_a_mitre_bundle_and_follows_revoked_by_links(tmp_path: Path) -> None:
    """--mitre-bundle: ids, names, tactics and previous ids from MITRE's own bundle. The 18.1
    data (--cti) is a one-object-per-file git repository like mitre/cti, made here."""
    cti = tmp_path / "cti"
    patterns = cti / "enterprise-attack" / "attack-pattern"
    patterns.mkdir(parents=True)
    (cti / "enterprise-attack" / "x-mitre-tactic").mkdir()
    old_firewall = _pattern(
        "1", "T1562.004", "Disable or Modify System Firewall", "defense-evasion"
    )
    hijack = _pattern("2", "T1496", "Resource Hijacking", "impact")
    for obj in (old_firewall, hijack):
        (patterns / f"{obj['id']}.json").write_text(json.dumps({"objects": [obj]}))
    tactic = {
        "type": "x-mitre-tactic",
        "id": "x-mitre-tactic--1",
        "name": "Impact",
        "x_mitre_shortname": "impact",
        "external_references": [{"source_name": "mitre-attack", "external_id": "TA0040"}],
    }
    (cti / "enterprise-attack" / "x-mitre-tactic" / "t.json").write_text(
        json.dumps({"objects": [tactic]})
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "ATT&CK v18.1"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args],
            cwd=cti,
            check=True,
        )
    new_firewall = _pattern("3", "T1686", "Disable or Modify System Firewall", "defense-impairment")
    revoked = {**old_firewall, "revoked": True}
    link = {
        "type": "relationship",
        "id": "relationship--1",
        "relationship_type": "revoked-by",
        "source_ref": revoked["id"],
        "target_ref": new_firewall["id"],
    }
    collection = {"type": "x-mitre-collection", "id": "x-mitre-collection--1"}
    bundle = tmp_path / "enterprise-attack-19.9.json"
    bundle.write_text(
        json.dumps(
            {
                "objects": [
                    revoked,
                    hijack,
                    new_firewall,
                    link,
                    {**collection, "x_mitre_version": "19.9"},
                ]
            }
        )
    )
    out = tmp_path / "catalogue.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "gen-attack-catalogue"),
            "--cti", str(cti),
            "--mitre-bundle", str(bundle),
            "--out", str(out),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    written = json.loads(out.read_text())
    assert written["attack_version"] == "19.9"
    assert written["techniques"]["T1686"]["previous"] == ["T1562.004"]
    assert written["techniques"]["T1686"]["tactics_v19"] == ["defense-impairment"]
    assert written["techniques"]["T1686"]["basis"] == "mitre-bundle"
    assert written["techniques"]["T1496"]["previous"] == []
    assert "T1562.004" not in written["techniques"]


def _pattern(n: str, tid: str, name: str, tactic: str) -> dict[str, object]:
    return {
        "type": "attack-pattern",
        "id": f"attack-pattern--{n}",
        "name": name,
        "external_references": [{"source_name": "mitre-attack", "external_id": tid}],
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": tactic}],
    }
