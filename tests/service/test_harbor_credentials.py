"""Harbor's per-scan registry credentials, for real: a docker-registry with htpasswd auth holds
the sample, `detonate serve` (uvicorn over TLS, in-process worker, SQLite store) has no
credentials of its own for it, and Harbor's ScanRequest brings `registry.authorization`. The
scan pulls with exactly that, and the secret never reaches the store's database file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from detonate.factory import build_sample
from detonate.model.options import AcquireOptions
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.service.harbor_report import ERROR_MIME, REPORT_MIME
from detonate.service.scan_credentials import (
    PullCredentials,
    ScanCredentials,
    parse_authorization,
)

from .harbor_spec import validate

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REQUEST_MIME = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def scan_request(host: str, digest: str, authorization: str) -> dict[str, Any]:
    document = {
        "registry": {"url": f"http://{host}", "authorization": authorization},
        "artifact": {
            "repository": "library/miner",
            "digest": digest,
            "tag": "1",
            "mime_type": OCI_MANIFEST,
        },
    }
    validate("ScanRequest", document)
    return document


@pytest.fixture
def no_service_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """skopeo (a child of this process) finds no credentials of its own: not in
    ~/.docker/config.json, containers-auth.json or $XDG_RUNTIME_DIR/containers/auth.json."""
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    empty = tmp_path / "empty-auth.json"
    empty.write_text("{}")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(empty))
    return empty


@pytest.fixture
def pushed(auth_registry: Any, tmp_path: Path) -> tuple[Any, str]:
    sample = build_sample(SAMPLES / "planted-static", tmp_path / "sample")
    auth_registry.push(sample.oci_reference, "library/miner:1")
    return auth_registry, sample.digest


def harbor_scan(serve: Any, host: str, digest: str, authorization: str) -> tuple[Any, str]:
    """A service without credentials, a static scan requested as Harbor does: (live, scan id)."""
    live = serve(profile="static")
    accepted = live.client().post(
        "/api/v1/scan",
        content=json.dumps(scan_request(host, digest, authorization)),
        headers={"Content-Type": REQUEST_MIME},
    )
    assert accepted.status_code == 202, accepted.text
    return live, accepted.json()["id"]


def database_bytes(live: Any, digest: str) -> bytes:
    """The SQLite file (and its -wal, -journal) as bytes, checked to hold the scan's record."""
    path = Path(live.store.engine.url.database)
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert digest.encode() in stored  # the right file, with the scan in it
    return stored


@pytest.mark.registry
@pytest.mark.slow
def test_the_scan_pulls_with_harbors_credentials(serve, pushed, no_service_auth) -> None:
    registry, digest = pushed
    live, scan_id = harbor_scan(
        serve, registry.host, digest, basic(registry.username, registry.password)
    )
    record = live.wait(scan_id)
    assert record.status.value == "done", record.reason
    assert record.verdict in ("clean", "suspicious", "malicious")
    report = live.client().get(f"/api/v1/scan/{scan_id}/report", headers={"Accept": REPORT_MIME})
    assert report.status_code == 200, report.text
    validate("HarborVulnerabilityReport", report.json())
    assert report.json()["artifact"]["digest"] == digest
    assert len(live.service.app.state.scan_credentials) == 0  # taken by the worker, gone
    assert registry.password.encode() not in database_bytes(live, digest)


@pytest.mark.registry
def test_wrong_credentials_fail_the_scan_with_an_auth_error(serve, pushed, no_service_auth) -> None:
    registry, digest = pushed
    wrong = f"not-{registry.password}"
    live, scan_id = harbor_scan(serve, registry.host, digest, basic(registry.username, wrong))
    record = live.wait(scan_id)
    assert record.status.value == "failed"
    assert "unauthorized" in record.reason and "acquire" in record.reason, record.reason
    print(f"\nreason: {record.reason}")
    answer = live.client().get(f"/api/v1/scan/{scan_id}/report", headers={"Accept": REPORT_MIME})
    assert answer.status_code == 500 and answer.headers["content-type"] == ERROR_MIME
    assert "unauthorized" in answer.json()["error"]["message"]
    stored = database_bytes(live, digest)
    assert wrong.encode() not in stored and registry.password.encode() not in stored


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":password-only").decode(),
        "Bearer ",
        "Digest abc",
        "Basic",
        42,
        "Bearer " + "x" * 9000,
    ],
)
def test_malformed_authorization_is_a_harbor_400(make_client, store, authorization) -> None:
    client = make_client()
    token = store.create_token("harbor")
    document = scan_request("127.0.0.1:5000", "sha256:" + "a" * 64, "Basic eDp5")
    document["registry"]["authorization"] = authorization
    answer = client.post(
        "/api/v1/scan",
        json=document,
        headers={"Authorization": f"Bearer {token}", "Content-Type": REQUEST_MIME},
    )
    assert answer.status_code == 400 and answer.headers["content-type"] == ERROR_MIME
    message = answer.json()["error"]["message"]
    assert "registry.authorization" in message
    assert "password-only" not in message and "xxxxxxxx" not in message  # no secret quoted


def test_authorization_forms() -> None:
    assert parse_authorization(basic("robot$scan", "p:a:ss")) == PullCredentials(
        creds="robot$scan:p:a:ss"
    )
    assert parse_authorization("Bearer eyJ.abc") == PullCredentials(token="eyJ.abc")
    assert parse_authorization("") is None and parse_authorization(None) is None
    secret = PullCredentials(creds="robot:hunter2", token="tok")
    assert "hunter2" not in repr(secret) and "tok" not in repr(secret)
    options = AcquireOptions(auth_file=Path("/etc/service-auth.json"), creds="svc:svcpass")
    assert "svcpass" not in repr(options)
    applied = secret.applied_to(options)
    assert (applied.auth_file, applied.creds, applied.registry_token) == (
        None,
        "robot:hunter2",
        "tok",
    )


def test_credentials_are_taken_once_expire_and_are_bounded() -> None:
    now = [0.0]
    held = ScanCredentials(ttl_seconds=10, max_entries=2, clock=lambda: now[0])
    held.put("a", PullCredentials(creds="u:a"))
    assert held.take("a") == PullCredentials(creds="u:a") and held.take("a") is None
    held.put("b", PullCredentials(token="b"))
    now[0] = 10.0
    assert held.take("b") is None  # expired with its TTL
    for scan_id in ("c", "d", "e"):
        held.put(scan_id, PullCredentials(token=scan_id))
    assert len(held) == 2 and held.take("c") is None  # the oldest went first
    base = AcquireOptions(creds="svc:pw")
    assert held.acquire_for("d", base).registry_token == "d"
    assert held.acquire_for("d", base) == base  # taken: the service's own again


def test_credentials_are_left_for_queued_scans_only(make_client, store) -> None:
    """Harbor's rescan of a digest still queued (a webhook's) leaves its newer credentials for
    that scan; a done scan is answered as it is and pulls nothing, so nothing is held. Without
    a holder (the Celery fleet) the request is accepted and the credentials are dropped."""
    client = make_client()
    held = ScanCredentials()
    client.app.state.scan_credentials = held
    headers = {
        "Authorization": f"Bearer {store.create_token('harbor')}",
        "Content-Type": REQUEST_MIME,
    }
    digest = "sha256:" + "b" * 64

    def post(authorization: str) -> str:
        document = scan_request("127.0.0.1:5000", digest, authorization)
        answer = client.post("/api/v1/scan", json=document, headers=headers)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    scan_id = post(basic("robot", "first"))
    assert post("Bearer second") == scan_id
    assert held.take(scan_id) == PullCredentials(token="second")
    store.mark_running(scan_id)
    image = ImageInfo(f"docker://127.0.0.1:5000/library/miner@{digest}", digest, "linux/amd64")
    store.record_report(scan_id, Report(image, Verdict.CLEAN, 0))
    assert post(basic("robot", "third")) == scan_id and len(held) == 0  # done: deduplicated
    other = "sha256:" + "c" * 64
    client.app.state.scan_credentials = None
    document = scan_request("127.0.0.1:5000", other, basic("robot", "fourth"))
    assert client.post("/api/v1/scan", json=document, headers=headers).status_code == 202
    assert len(held) == 0
