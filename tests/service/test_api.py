"""The REST API over real HTTPS (uvicorn, TLS), a real store (SQLite and PostgreSQL), the real
`docker-registry` and real scans of the bundled samples."""

from __future__ import annotations

import json
import re
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jsonschema
import pytest

from detonate.report import json_report, sarif
from detonate.store import ScanStatus, Source

from .live import LiveService

SCENARIOS = Path(__file__).resolve().parents[2] / "samples" / "scenarios"


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text: metric(body, "detonate_scans", status="done")."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


def test_https_only_with_the_configured_certificate(serve) -> None:
    live: LiveService = serve()
    assert live.client().get("/healthz").json() == {"status": "ok"}
    with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port
        httpx.get(live.base_url.replace("https://", "http://") + "/healthz", timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(live.base_url + "/healthz", verify=ssl.create_default_context(), timeout=5)


@pytest.mark.registry
def test_a_scan_through_the_api_end_to_end(serve, db_url, registry, built_samples) -> None:
    live: LiveService = serve(db_url)
    ref = registry.push(built_samples["planted-static"].oci_reference, "team/planted:1")
    api = live.client()
    posted = api.post("/api/v1/scans", json={"reference": ref, "profile": "static"})
    assert posted.status_code == 202, posted.text
    scan = posted.json()
    assert scan["created"] is True and scan["digest"] == built_samples["planted-static"].digest
    assert posted.headers["location"] == f"/api/v1/scans/{scan['id']}"
    live.wait(scan["id"])

    done = api.get(f"/api/v1/scans/{scan['id']}").json()
    assert (done["status"], done["verdict"], done["attempts"]) == ("done", "malicious", 1)
    assert done["deciding_rule"] and done["finished_at"]

    reports = {
        fmt: api.get(f"/api/v1/scans/{scan['id']}/report", params={"format": fmt})
        for fmt in ("json", "sarif", "html", "stix")
    }
    assert all(r.status_code == 200 for r in reports.values())
    document = reports["json"].json()
    json_report.validate(document)
    assert document["verdict"] == "malicious" and document["image"]["digest"] == scan["digest"]
    sarif.validate(reports["sarif"].json())
    assert reports["sarif"].headers["content-type"] == "application/sarif+json"
    assert "malicious" in reports["html"].text.lower()
    assert "sandbox" in reports["html"].headers["content-security-policy"]
    bundle = reports["stix"].json()
    assert bundle["type"] == "bundle" and any(o["type"] == "indicator" for o in bundle["objects"])

    verdict = api.get(f"/api/v1/images/{scan['digest']}/verdict").json()
    assert (verdict["verdict"], verdict["scan_id"]) == ("malicious", scan["id"])
    listed = api.get("/api/v1/scans", params={"verdict": "malicious"}).json()["scans"]
    assert [s["id"] for s in listed] == [scan["id"]]
    assert api.get("/api/v1/scans", params={"verdict": "clean"}).json()["scans"] == []
    repository = ref.removeprefix("docker://").rsplit(":", 1)[0]
    [seen] = live.store.tag_history(repository, "1")
    assert (seen.digest, seen.source) == (scan["digest"], Source.API)

    again = api.post("/api/v1/scans", json={"reference": ref, "profile": "static"})
    assert again.status_code == 200 and again.json()["id"] == scan["id"]
    assert again.json()["created"] is False

    metrics = live.client(token="").get("/metrics").text
    assert metric(metrics, "detonate_scans", status="done", verdict="malicious") == 1
    assert metric(metrics, "detonate_queue_depth") == 0
    assert (metric(metrics, "detonate_scan_duration_seconds_count", profile="static") or 0) >= 1


@pytest.mark.registry
def test_100_concurrent_requests_for_one_image_make_one_scan(
    serve, db_url, registry, built_samples
) -> None:
    live: LiveService = serve(db_url)
    ref = registry.push(built_samples["benign-web"].oci_reference, "team/web:flood")
    local = threading.local()

    def post(_: int) -> httpx.Response:
        if not hasattr(local, "client"):
            local.client = live.client()
        return local.client.post("/api/v1/scans", json={"reference": ref, "profile": "static"})

    with ThreadPoolExecutor(25) as pool:
        answers = list(pool.map(post, range(100)))
    assert {a.status_code for a in answers} <= {200, 202}, {a.text for a in answers}
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1
    assert [a.status_code for a in answers].count(202) == 1
    assert sum(a.json()["created"] for a in answers) == 1
    scans = live.store.list_scans()
    assert [s.id for s in scans] == list(ids)
    assert live.wait(ids.pop()).status is ScanStatus.DONE


def test_a_queued_scan_has_no_report_yet_and_can_be_cancelled(serve) -> None:
    live: LiveService = serve()
    record, _ = live.store.request_scan(  # stored, not handed to the workers
        "docker://registry.test/app:1",
        digest="sha256:" + "a" * 64,
        platform="linux/amd64",
        source=Source.API,
    )
    api = live.client()
    early = api.get(f"/api/v1/scans/{record.id}/report")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "report_not_ready"
    cancelled = api.delete(f"/api/v1/scans/{record.id}")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "failed"
    again = api.delete(f"/api/v1/scans/{record.id}")
    assert again.status_code == 409 and again.json()["error"]["code"] == "scan_finished"


def test_metrics_can_require_a_token(serve) -> None:
    live: LiveService = serve(metrics_need_token=True)
    assert live.client(token="").get("/metrics").status_code == 401
    assert live.client().get("/metrics").status_code == 200
    assert live.client(token="").get("/healthz").status_code == 200
    assert live.client(token="").get("/readyz").json()["status"] == "ready"


def test_openapi_describes_the_api(serve) -> None:
    live: LiveService = serve()
    spec = live.client(token="").get("/openapi.json").json()
    assert {"/api/v1/scans", "/api/v1/scans/{scan_id}", "/api/v1/scans/{scan_id}/report"} <= set(
        spec["paths"]
    )
    assert "/api/v1/images/{digest}/verdict" in spec["paths"]
    body = spec["paths"]["/api/v1/scans"]["post"]["requestBody"]["content"]["application/json"]
    assert "reference" in body["schema"]["properties"]
    jsonschema.Draft202012Validator.check_schema(body["schema"])


def test_unfinished_scans_in_the_store_run_when_the_service_starts(
    serve, registry, built_samples, tmp_path
) -> None:
    ref = registry.push(built_samples["planted-static"].oci_reference, "team/resume:1")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    from detonate.store import Store

    before = Store.open(url)  # what a service that stopped mid-way left behind
    record, _ = before.request_scan(
        ref,
        digest=built_samples["planted-static"].digest,
        platform="linux/amd64",
        source=Source.API,
        profile="static",
    )
    before.mark_running(record.id)
    before.close()
    live: LiveService = serve(url)
    finished = live.wait(record.id)
    assert (finished.status, finished.verdict, finished.attempts) == (
        ScanStatus.DONE,
        "malicious",
        2,
    )
    assert json.loads(live.store.report_json(record.id))["verdict"] == "malicious"


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.registry
def test_a_sandbox_scan_through_the_api_finds_what_static_missed(serve, registry, tmp_path) -> None:
    from detonate.factory import build_sample
    from sandbox.busybox_image import sandbox_available

    if not sandbox_available():
        pytest.skip("needs root, runc, strace and busybox-static")
    sample = build_sample(SCENARIOS / "t04-delayed-payload", tmp_path / "built")
    ref = registry.push(sample.oci_reference, "team/delayed:1")
    live: LiveService = serve()
    api = live.client()
    posted = api.post("/api/v1/scans", json={"reference": ref})
    assert posted.status_code == 202 and posted.json()["profile"] == "full"
    finished = live.wait(posted.json()["id"], timeout=300)
    assert (finished.status, finished.verdict) == (ScanStatus.DONE, "malicious")
    document = api.get(f"/api/v1/scans/{finished.id}/report").json()
    json_report.validate(document)
    assert document["run"]["status"] != "not-run"
    assert any(f["runtime_only"] for f in document["findings"])
    for fmt in ("sarif", "html", "stix"):  # rendered from the stored document
        assert api.get(f"/api/v1/scans/{finished.id}/report?format={fmt}").status_code == 200


def test_readyz_says_when_the_workers_are_gone(serve) -> None:
    live: LiveService = serve()
    assert live.client(token="").get("/readyz").status_code == 200
    live.service.queue.close()
    answer = live.client(token="").get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["problems"] == ["workers: not running"]
