import copy
import json
from dataclasses import replace

import jsonschema
import pytest

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.report import ImageInfo, Report, StageError, Verdict
from detonate.report import sarif

MINER = Finding(
    rule_id="stratum-login",
    title="Stratum mining login",
    category=Category.WEAPONIZATION,
    technique="T1496",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    source="runtime:rules",
    runtime_only=True,
    why="The process logged in to a mining pool over the stratum protocol.",
    evidence=(
        Evidence(
            "stratum login",
            event_ids=(41, 42),
            process=("sh -c /opt/x/run.sh", "/opt/x/xmrig -o pool.test:3333"),
            destination="pool.test:3333 (192.0.2.10)",
            excerpt='{"method":"login","params":{"login":"4FAKEWALLET"}}',
        ),
    ),
)
KEY = Finding(
    rule_id="private-key-in-image",
    title="Private key shipped in a layer",
    category=Category.COLLECTION_EXFILTRATION,
    technique="T1552.004",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    source="static:files",
    why="A private key in an image is readable by anyone who pulls it.",
    evidence=(
        Evidence("private key", path="/root/.ssh/id rsa", layer_index=1, sha256="b" * 64),
        Evidence("private key", path="/home/app/.ssh/id_ed25519", layer_index=2),
    ),
)
HIDDEN = Finding(
    rule_id="hidden-executable",
    title="Hidden executable",
    category=Category.INITIAL_EXECUTION,
    technique="T1564.001",
    severity=Severity.LOW,
    confidence=Confidence.LOW,
    source="static:files",
    evidence=(Evidence("hidden file", path="/tmp/.x/<script>"),),
)


def sample_report(**overrides) -> Report:
    fields = dict(
        image=ImageInfo(reference="docker://example.test/app:1", digest="sha256:" + "a" * 64),
        verdict=Verdict.MALICIOUS,
        score=95,
        findings=(MINER, KEY, HIDDEN, MINER),
        generated_at="2026-01-01T00:00:00+00:00",
        tool_version="0.1.0",
    )
    fields.update(overrides)
    return Report(**fields)


def results_by_rule(log):
    return {r["ruleId"]: r for r in log["runs"][0]["results"]}


def test_log_validates_against_the_official_schema():
    sarif.validate(sarif.render(sample_report()))


def test_vendored_schema_is_the_official_oasis_document():
    schema = sarif.schema()
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["id"] == sarif.SARIF_SCHEMA_URI
    assert {"reportingDescriptor", "result", "logicalLocation", "propertyBag"} <= set(
        schema["definitions"]
    )


def test_log_also_validates_with_a_draft7_validator():
    jsonschema.Draft7Validator(sarif.schema()).validate(sarif.render(sample_report()))


@pytest.mark.parametrize(
    "report",
    [
        sample_report(findings=(), verdict=Verdict.CLEAN, score=0),
        sample_report(
            findings=(),
            verdict=Verdict.ERROR,
            error=StageError("acquire", "ImageNotFound", "no such image", "check the tag"),
        ),
        sample_report(generated_at="", tool_version=""),
    ],
    ids=["clean", "error", "no-clock"],
)
def test_edge_reports_validate(report):
    sarif.validate(sarif.render(report))


def test_schema_catches_a_broken_log():
    log = sarif.render(sample_report())
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "critical"
    with pytest.raises(jsonschema.ValidationError):
        sarif.validate(broken)
    broken = copy.deepcopy(log)
    del broken["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        sarif.validate(broken)


def test_one_run_named_detonate_without_external_urls():
    log = sarif.render(sample_report())
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "detonate"
    assert driver["version"] == "0.1.0"
    assert "informationUri" not in driver
    text = json.dumps(log["runs"])
    assert "http://" not in text
    assert "https://" not in text


def test_each_distinct_rule_is_one_descriptor_with_help_and_attack_tags():
    log = sarif.render(sample_report())
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "hidden-executable",
        "private-key-in-image",
        "stratum-login",
    ]
    miner = rules[2]
    assert miner["shortDescription"]["text"] == "Stratum mining login"
    assert "stratum protocol" in miner["fullDescription"]["text"]
    assert "T1496" in miner["fullDescription"]["text"]
    assert "T1496" in miner["help"]["text"]
    assert "attack:T1496" in miner["properties"]["tags"]
    assert "weaponization" in miner["properties"]["tags"]
    assert miner["properties"]["security-severity"] == "9.5"
    assert rules[1]["properties"]["security-severity"] == "5.5"


def test_results_point_to_their_rule_and_map_severity_to_level():
    log = sarif.render(sample_report())
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == 4
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {
        "stratum-login": "error",
        "private-key-in-image": "warning",
        "hidden-executable": "note",
    }


def test_file_evidence_is_a_relative_physical_location_under_the_image_root():
    result = results_by_rule(sarif.render(sample_report()))["private-key-in-image"]
    uris = [loc["physicalLocation"]["artifactLocation"] for loc in result["locations"]]
    assert uris == [
        {"uri": "root/.ssh/id%20rsa", "uriBaseId": "IMAGEROOT"},
        {"uri": "home/app/.ssh/id_ed25519", "uriBaseId": "IMAGEROOT"},
    ]
    log = sarif.render(sample_report())
    assert "IMAGEROOT" in log["runs"][0]["originalUriBaseIds"]


def test_runtime_evidence_is_a_logical_process_location_on_the_acting_program():
    result = results_by_rule(sarif.render(sample_report()))["stratum-login"]
    (location,) = result["locations"]
    artifact = location["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "opt/x/xmrig", "uriBaseId": "IMAGEROOT"}
    process, destination = location["logicalLocations"]
    assert process["kind"] == "process"
    assert process["fullyQualifiedName"] == "sh -c /opt/x/run.sh > /opt/x/xmrig -o pool.test:3333"
    assert destination["name"] == "pool.test:3333 (192.0.2.10)"
    assert result["properties"]["runtime_only"] is True
    assert "run time" in result["message"]["text"]


def test_fingerprints_are_stable_across_runs_and_ignore_event_ids():
    first = results_by_rule(sarif.render(sample_report()))
    rerun = replace(MINER, evidence=(replace(MINER.evidence[0], event_ids=(7, 8)),))
    second = results_by_rule(
        sarif.render(sample_report(findings=(rerun, KEY, HIDDEN), generated_at="2027-05-05"))
    )
    for rule_id in first:
        assert first[rule_id]["partialFingerprints"] == second[rule_id]["partialFingerprints"]
    fingerprints = {json.dumps(r["partialFingerprints"]) for r in first.values()}
    assert len(fingerprints) == 3


def test_error_report_carries_a_tool_notification():
    report = sample_report(
        findings=(),
        verdict=Verdict.ERROR,
        error=StageError("unpack", "LimitExceeded", "too many files", "raise --max-files"),
    )
    (invocation,) = sarif.render(report)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert "too many files" in notification["message"]["text"]


def test_dumps_is_deterministic():
    assert sarif.dumps(sample_report()) == sarif.dumps(sample_report())


def test_runtime_evidence_without_a_program_path_falls_back_to_the_entrypoint():
    flood = replace(
        MINER,
        rule_id="udp-flood",
        evidence=(Evidence("flood", process=("flood 192.0.2.1",), destination="192.0.2.1:80"),),
    )
    image = ImageInfo(reference="docker://example.test/app:1", entrypoint=("/app/start", "-x"))
    log = sarif.render(sample_report(findings=(flood,), image=image))
    sarif.validate(log)
    (location,) = log["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "app/start"


def test_finding_with_file_evidence_gets_no_invented_program_location():
    mixed = replace(KEY, evidence=(*KEY.evidence, Evidence("read", process=("/bin/cat x",))))
    result = results_by_rule(sarif.render(sample_report(findings=(mixed,))))[KEY.rule_id]
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for loc in result["locations"]
        if "physicalLocation" in loc
    ]
    assert "bin/cat" not in uris
    assert len(result["locations"]) == 3


def test_attack_ids_name_their_release_as_a_taxonomy_with_previous_ids_kept_as_tags():
    firewall = replace(MINER, rule_id="exec-firewall-disable", title="Firewall off",
                       technique="T1686")  # fmt: skip
    log = sarif.render(sample_report(findings=(MINER, firewall), attack_version="19"))
    sarif.validate(log)
    run = log["runs"][0]
    (taxonomy,) = run["taxonomies"]
    assert (taxonomy["name"], taxonomy["version"]) == ("MITRE ATT&CK", "19")
    taxa = taxonomy["taxa"]
    assert [t["id"] for t in taxa] == ["T1496", "T1686"]
    assert taxa[1]["name"] == "Disable or Modify System Firewall"
    assert taxa[1]["properties"]["previous_ids"] == ["T1562.004"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    rule = rules["exec-firewall-disable"]
    (relation,) = rule["relationships"]
    assert taxa[relation["target"]["index"]]["id"] == "T1686"
    assert {"attack:T1686", "attack:T1562.004"} <= set(rule["properties"]["tags"])
    assert rule["properties"]["attack_version"] == "19"
    assert "v19" in rule["fullDescription"]["text"]
    assert run["properties"]["attack_version"] == "19"


def test_a_report_without_an_attack_release_claims_none():
    run = sarif.render(sample_report())["runs"][0]
    assert "version" not in run["taxonomies"][0]
    assert run["properties"]["attack_version"] == ""
