"""detonate reports → Harbor's vulnerability report, checked against the spec's own schemas."""

from __future__ import annotations

import jsonschema
import pytest

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.report.json_report import to_document
from detonate.service.harbor_report import (
    CONSUMES,
    REPORT_MIME,
    ScannerInfo,
    attack_link,
    error_body,
    metadata,
    vulnerability_report,
)

from .harbor_spec import validate

SCANNER = ScannerInfo("detonate", "detonate", "0.1.0")
ARTIFACT = {"repository": "library/miner", "digest": "sha256:" + "a" * 64}


def report(verdict: Verdict, *findings: Finding) -> dict:
    image = ImageInfo("docker://harbor.test/library/miner@sha256:" + "a" * 64, "sha256:" + "a" * 64)
    return to_document(
        Report(image, verdict, 92, findings=findings, generated_at="2026-12-02T12:00:00Z")
    )


MINER = Finding(
    rule_id="stratum-login",
    title="Stratum mining login",
    category=Category.COMMUNICATION,
    technique="T1496",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    source="runtime:rules",
    runtime_only=True,
    why="The process logged in to a mining pool.",
    evidence=(
        Evidence(
            "stratum login",
            process=("sh -c /opt/x/run.sh", "/opt/x/xmrig -o pool.test:3333"),
            destination="pool.test:3333 (192.0.2.10)",
        ),
    ),
)
HIDDEN = Finding(
    rule_id="hidden-executable",
    title="Hidden executable",
    category=Category.WEAPONIZATION,
    technique="T1564.001",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    source="static:files",
    evidence=(Evidence("hidden file", path="/tmp/.x/run", layer_index=2),),
)


def test_findings_become_items_and_the_verdict_sets_the_severity() -> None:
    harbor = vulnerability_report(report(Verdict.MALICIOUS, MINER, HIDDEN), ARTIFACT, SCANNER)
    validate("HarborVulnerabilityReport", harbor)
    assert harbor["severity"] == "Critical"
    verdict, miner, hidden = harbor["vulnerabilities"]
    assert verdict["id"] == "detonate:verdict" and verdict["severity"] == "Critical"
    assert miner["id"] == "stratum-login"
    assert miner["package"] == "/opt/x/xmrig -o pool.test:3333"  # the innermost process
    assert miner["severity"] == "Critical"
    assert "destination: pool.test:3333 (192.0.2.10)" in miner["description"]
    assert miner["links"] == ["https://attack.mitre.org/techniques/T1496/"]
    assert miner["vendor_attributes"] == {
        "attack_technique": "T1496",
        "category": "communication",
        "runtime_only": True,
        "confidence": "high",
        "source": "runtime:rules",
    }
    assert hidden["package"] == "/tmp/.x/run" and hidden["severity"] == "Medium"
    assert hidden["links"] == ["https://attack.mitre.org/techniques/T1564/001/"]


def test_suspicious_medium_findings_still_gate_at_high() -> None:
    harbor = vulnerability_report(report(Verdict.SUSPICIOUS, HIDDEN), ARTIFACT, SCANNER)
    validate("HarborVulnerabilityReport", harbor)
    assert harbor["severity"] == "High"


def test_clean_report_has_no_items() -> None:
    harbor = vulnerability_report(report(Verdict.CLEAN), ARTIFACT, SCANNER)
    validate("HarborVulnerabilityReport", harbor)
    assert harbor["vulnerabilities"] == [] and harbor["severity"] == "Unknown"
    assert harbor["generated_at"] == "2026-12-02T12:00:00Z"


def test_metadata_and_errors_match_the_spec() -> None:
    document = metadata(SCANNER, {"detonate/platform": "linux/amd64"})
    validate("ScannerAdapterMetadata", document)
    (capability,) = document["capabilities"]
    assert capability["consumes_mime_types"] == list(CONSUMES)
    assert REPORT_MIME in capability["produces_mime_types"]
    validate("ErrorResponse", error_body("no scan 'x'"))


def test_the_schema_check_can_fail() -> None:
    harbor = vulnerability_report(report(Verdict.MALICIOUS, MINER), ARTIFACT, SCANNER)
    harbor["vulnerabilities"][1]["severity"] = "critical"  # Harbor's enum is capitalised
    with pytest.raises(jsonschema.ValidationError):
        validate("HarborVulnerabilityReport", harbor)


def test_attack_links() -> None:
    assert attack_link("T1036.005") == "https://attack.mitre.org/techniques/T1036/005/"
