"""The whole loop with real parts: `detonate serve`'s app under uvicorn over TLS on 127.0.0.1,
its in-process workers running real scans (runc sandbox), Debian's docker-registry configured
with a notifications endpoint pointing at /hooks/distribution (bearer secret, our CA trusted via
SSL_CERT_FILE), and `skopeo copy` pushing a bundled sample. Then the cluster's view (an
AdmissionReview over HTTPS) and Harbor's (scan, poll through 302s, report)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from detonate.factory import build_sample
from detonate.model.options import AcquireOptions, SandboxOptions, ScanOptions
from detonate.service.harbor_report import REPORT_MIME
from detonate.service.serve import running_service, uvicorn_config
from detonate.service.settings import Settings
from detonate.store import Source, Store

from .harbor_spec import validate
from .tls_files import write_tls_files

pytestmark = [pytest.mark.sandbox, pytest.mark.registry, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SECRET = "e2e-test-only-secret"
REVIEW = Path(__file__).resolve().parents[1] / "admission" / "reviews" / "pod.json"


@dataclass
class Running:
    url: str
    store: Store
    client: httpx.Client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def e2e_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return write_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def service(
    e2e_tls: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    ca, cert, key = e2e_tls
    work = tmp_path_factory.mktemp("service")
    settings = Settings(
        cache_dir=work / "cache",
        port=_free_port(),
        tls_cert=cert,
        tls_key=key,
        concurrency=1,
        registry_tls_verify=False,
        hook_secrets={"distribution": SECRET},
        scan=ScanOptions(
            cache_dir=work / "cache",
            acquire=AcquireOptions(tls_verify=False),
            sandbox=SandboxOptions(timeout_seconds=30, idle_seconds=5),
        ),
    )
    with running_service(settings) as running:
        server = uvicorn.Server(uvicorn_config(running))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        url = f"https://127.0.0.1:{settings.port}"
        token = running.store.create_token("e2e")
        with httpx.Client(
            base_url=url,
            verify=ssl.create_default_context(cafile=str(ca)),
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield Running(url, running.store, client)
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def notifying_registry(
    service: Running, e2e_tls: tuple[Path, Path, Path], make_registry: Any
) -> Any:
    endpoint = {
        "name": "detonate",
        "url": f"{service.url}/hooks/distribution",
        "headers": {"Authorization": [f"Bearer {SECRET}"]},
        "timeout": "2s",
        "threshold": 5,
        "backoff": "1s",
    }
    return make_registry(notifications=[endpoint], env={"SSL_CERT_FILE": str(e2e_tls[0])})


def wait_for(condition: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (value := condition()) is not None:
            return value
        time.sleep(0.25)
    return None


def test_push_notify_scan_verdict_then_admission(
    service: Running, notifying_registry: Any, tmp_path: Path
) -> None:
    sample = build_sample(SAMPLES / "planted-static", tmp_path)
    started = time.monotonic()
    notifying_registry.push(f"oci:{sample.layout}:{sample.tag}", "e2e/miner:1")
    verdict = wait_for(lambda: service.store.verdict_for(sample.digest), 240)
    elapsed = time.monotonic() - started
    log = (Path(notifying_registry.storage).parent / "registry.log").read_text(errors="replace")
    assert verdict is not None, f"no verdict after {elapsed:.0f} s; registry log:\n{log[-3000:]}"
    assert verdict.verdict == "malicious"
    scan = service.store.get_scan(verdict.scan_id)
    assert scan is not None and scan.source is Source.WEBHOOK
    assert [s.digest for s in service.store.list_scans()].count(sample.digest) == 1
    assert service.store.latest_digest(f"{notifying_registry.host}/e2e/miner", "1") == sample.digest
    print(f"\nskopeo copy → verdict in the store: {elapsed:.1f} s")

    review = json.loads(REVIEW.read_text())
    image = f"{notifying_registry.host}/e2e/miner:1"
    for container in (
        review["request"]["object"]["spec"]["containers"]
        + review["request"]["object"]["spec"]["initContainers"]
    ):
        container["image"] = image
    answer = service.client.post("/k8s/validate", json=review)
    assert answer.status_code == 200
    decision = answer.json()["response"]
    assert decision["allowed"] is False and verdict.rule_id in decision["status"]["message"]


def test_harbor_drives_a_real_scan(
    service: Running, notifying_registry: Any, tmp_path: Path
) -> None:
    sample = build_sample(SAMPLES / "benign-web", tmp_path)
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--preserve-digests",
            f"oci:{sample.layout}:{sample.tag}",
            f"docker://{notifying_registry.host}/library/web:1",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    request = {
        "registry": {"url": f"http://{notifying_registry.host}"},
        "artifact": {
            "repository": "library/web",
            "digest": sample.digest,
            "tag": "1",
            "mime_type": "application/vnd.oci.image.manifest.v1+json",
        },
    }
    accepted = service.client.post(
        "/api/v1/scan",
        json=request,
        headers={"Content-Type": "application/vnd.scanner.adapter.scan.request+json; version=1.1"},
    )
    assert accepted.status_code == 202
    scan_id = accepted.json()["id"]
    polls = 0
    deadline = time.monotonic() + 240
    while True:
        answer = service.client.get(
            f"/api/v1/scan/{scan_id}/report", headers={"Accept": REPORT_MIME}
        )
        if answer.status_code != 302:
            break
        polls += 1
        assert time.monotonic() < deadline, "the scan did not finish"
        time.sleep(min(float(answer.headers["Refresh-After"]), 1.0))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    validate("HarborVulnerabilityReport", report)
    assert report["artifact"]["digest"] == sample.digest
    stored = service.store.get_scan(scan_id)
    assert stored is not None and stored.verdict in ("clean", "suspicious", "malicious")
    # The push of the same digest also notified the hook: still one scan.
    assert [s.digest for s in service.store.list_scans()].count(sample.digest) == 1
    print(f"\nHarbor polls answered 302 before the report: {polls}")
