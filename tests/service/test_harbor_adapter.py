"""The Harbor scanner API through the app over a real store, driven as Harbor drives it: metadata,
scan request, polls answered 302 + Refresh-After while the scan waits, then the report in the
type Harbor asked for, each answer checked against the spec's schemas. (The scan's run is
recorded here by hand; tests/service/test_end_to_end.py lets a real worker run it.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detonate.factory import build_sample
from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.service.harbor_report import (
    DETONATE_MIME,
    ERROR_MIME,
    METADATA_MIME,
    RAW_MIME,
    REPORT_MIME,
    SCAN_RESPONSE_MIME,
)

from .harbor_spec import validate

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REQUEST_MIME = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def harbor(make_client: Any, store: Any) -> tuple[Any, dict[str, str]]:
    token = store.create_token("harbor")
    return make_client(), {"Authorization": f"Bearer {token}"}


def scan_request(
    host: str, repository: str, digest: str, mime: str = OCI_MANIFEST
) -> dict[str, Any]:
    document = {
        "registry": {"url": f"http://{host}", "authorization": "Basic cm9ib3Q6c2VjcmV0"},
        "artifact": {"repository": repository, "digest": digest, "tag": "1", "mime_type": mime},
    }
    validate("ScanRequest", document)
    return document


def test_metadata(harbor) -> None:
    client, auth = harbor
    answer = client.get("/api/v1/metadata", headers=auth)
    assert answer.status_code == 200 and answer.headers["content-type"] == METADATA_MIME
    validate("ScannerAdapterMetadata", answer.json())
    assert answer.json()["scanner"]["name"] == "detonate"


@pytest.mark.registry
def test_scan_poll_report_as_harbor_does(harbor, store, queue, registry, tmp_path) -> None:
    client, auth = harbor
    sample = build_sample(SAMPLES / "planted-static", tmp_path)
    registry.push(f"oci:{sample.layout}:{sample.tag}", "library/miner:1")
    accepted = client.post(
        "/api/v1/scan",
        content=json.dumps(scan_request(registry.host, "library/miner", sample.digest)),
        headers={**auth, "Content-Type": REQUEST_MIME},
    )
    assert accepted.status_code == 202 and accepted.headers["content-type"] == SCAN_RESPONSE_MIME
    validate("ScanResponse", accepted.json())
    scan_id = accepted.json()["id"]
    assert queue.submitted == [scan_id]
    report_url = f"/api/v1/scan/{scan_id}/report"
    accept = {**auth, "Accept": REPORT_MIME}
    waiting = client.get(report_url, headers=accept, follow_redirects=False)
    assert waiting.status_code == 302 and waiting.headers["Refresh-After"] == "5"
    store.mark_running(scan_id)
    assert client.get(report_url, headers=accept, follow_redirects=False).status_code == 302
    finding = Finding(
        "planted-binary",
        "Miner binary in the image",
        Category.COMMUNICATION,
        "T1496",
        Severity.HIGH,
        Confidence.HIGH,
        "static:yara",
        evidence=(Evidence("YARA match", path="/usr/local/bin/xmrig"),),
    )
    image = ImageInfo(
        f"docker://{registry.host}/library/miner@{sample.digest}", sample.digest, "linux/amd64"
    )
    store.record_report(
        scan_id,
        Report(
            image, Verdict.MALICIOUS, 95, findings=(finding,), generated_at="2026-12-02T12:00:00Z"
        ),
    )
    done = client.get(report_url, headers=accept)
    assert done.status_code == 200 and done.headers["content-type"] == REPORT_MIME
    report = done.json()
    validate("HarborVulnerabilityReport", report)
    assert report["severity"] == "Critical"
    assert report["artifact"] == {"repository": "library/miner", "digest": sample.digest}
    assert [v["id"] for v in report["vulnerabilities"]] == ["detonate:verdict", "planted-binary"]
    for raw_type in (RAW_MIME, DETONATE_MIME):
        raw = client.get(report_url, headers={**auth, "Accept": raw_type})
        assert raw.status_code == 200 and raw.headers["content-type"].startswith(raw_type)
        assert raw.json()["verdict"] == "malicious"
    # A second request for the same digest is the same scan (Harbor rescans; a webhook may
    # have queued it already).
    again = client.post(
        "/api/v1/scan",
        json=scan_request(registry.host, "library/miner", sample.digest),
        headers=auth,
    )
    assert again.json()["id"] == scan_id and queue.submitted == [scan_id]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/api/v1/scan/no-such-scan/report", {}, 404),
        ("get", "/api/v1/scan/x/report", {"headers": {"Accept": "application/pdf"}}, 400),
        ("post", "/api/v1/scan", {"content": b"{", "headers": {"Content-Type": REQUEST_MIME}}, 400),
        (
            "post",
            "/api/v1/scan",
            {"content": b"{}", "headers": {"Content-Type": "text/plain"}},
            415,
        ),
        (
            "post",
            "/api/v1/scan",
            {"json": {"registry": {"url": "core.harbor"}, "artifact": {}}},
            422,
        ),
        (
            "post",
            "/api/v1/scan",
            {
                "json": {
                    "registry": {"url": "https://h.test"},
                    "artifact": {"repository": "a/b", "digest": "sha256:1"},
                }
            },
            422,
        ),
    ],
)
def test_errors_in_harbors_shape(harbor, store, method, path, kwargs, status) -> None:
    client, auth = harbor
    headers = {**auth, **kwargs.pop("headers", {})}
    answer = getattr(client, method)(path, headers=headers, **kwargs)
    assert answer.status_code == status
    assert answer.headers["content-type"] == ERROR_MIME
    validate("ErrorResponse", answer.json())
    assert answer.json()["error"]["message"]
    assert store.list_scans() == []


@pytest.mark.parametrize("authorization", ["", "Bearer wrong", "Basic aGFyYm9yOng="])
def test_every_call_needs_a_token(harbor, authorization) -> None:
    client, _ = harbor
    headers = {"Authorization": authorization} if authorization else {}
    for answer in (
        client.get("/api/v1/metadata", headers=headers),
        client.post("/api/v1/scan", json={}, headers=headers),
        client.get("/api/v1/scan/x/report", headers=headers),
    ):
        assert answer.status_code == 401 and answer.headers["content-type"] == ERROR_MIME


def test_the_services_own_scans_api_is_untouched(harbor) -> None:
    """/api/v1/scan (Harbor) and /api/v1/scans (the service) are different routes."""
    client, auth = harbor
    assert client.get("/api/v1/scans", headers=auth).status_code == 200
    assert client.get("/api/v1/scan", headers=auth).status_code == 405
