"""/k8s/validate with AdmissionReview v1 documents of every kind, over a real store and real
registry lookups. No Kubernetes API server can run here: the reviews are the documents an API
server sends (tests/admission/reviews/), posted as it posts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detonate.admission.policy import AdmissionPolicy, UnknownPolicy
from detonate.factory import build_sample
from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.store import Source

pytestmark = pytest.mark.registry

REVIEWS = Path(__file__).resolve().parents[1] / "admission" / "reviews"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
KINDS = [
    "pod",
    "deployment",
    "statefulset",
    "daemonset",
    "replicaset",
    "job",
    "cronjob",
    "replicationcontroller",
]
MINER = Finding(
    rule_id="stratum-login",
    title="Stratum mining login",
    category=Category.COMMUNICATION,
    technique="T1496",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    source="runtime:rules",
    runtime_only=True,
    evidence=(Evidence("stratum login", destination="pool.test:3333 (192.0.2.10)"),),
)


@pytest.fixture(scope="module")
def images(registry: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """shop/web:1 (benign-web) and shop/miner:1 (planted-static) in the real registry."""
    out = tmp_path_factory.mktemp("admission-samples")
    web = build_sample(SAMPLES / "benign-web", out / "web")
    miner = build_sample(SAMPLES / "planted-static", out / "miner")
    registry.push(f"oci:{web.layout}:{web.tag}", "shop/web:1")
    registry.push(f"oci:{miner.layout}:{miner.tag}", "shop/miner:1")
    return {
        "host": registry.host,
        "web": web.digest,
        "miner": miner.digest,
        "web_layout": f"oci:{web.layout}:{web.tag}",
        "miner_layout": f"oci:{miner.layout}:{miner.tag}",
    }


def judged(store: Any, digest: str, verdict: Verdict) -> str:
    scan, _ = store.request_scan(
        f"docker://x.test/y@{digest}", digest=digest, platform="linux/amd64", source=Source.CLI
    )
    findings = (MINER,) if verdict is Verdict.MALICIOUS else ()
    store.record_report(
        scan.id,
        Report(
            ImageInfo("docker://x.test/y", digest, "linux/amd64"),
            verdict,
            90 if findings else 0,
            findings=findings,
        ),
    )
    return str(scan.id)


def review(
    kind: str, web: str, sidecar: str, migrate: str, namespace: str = "shop"
) -> dict[str, Any]:
    document = json.loads((REVIEWS / f"{kind}.json").read_text())
    document["request"]["namespace"] = namespace
    replacements = {"web": web, "sidecar": sidecar, "migrate": migrate}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") in replacements and "image" in node:
                node["image"] = replacements[node["name"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document["request"]["object"])
    return document


def post(client: Any, document: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/k8s/validate", json=document)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    parts = getattr(client.app.state, "admission", None)
    if parts is not None:  # decisions are written by the recorder's thread: wait for it
        assert parts.recorder.flush()
    assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == document["request"]["uid"]
    return body["response"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_malicious_image_in_any_kind_is_denied(make_client, store, images, kind) -> None:
    judged(store, images["web"], Verdict.CLEAN)
    judged(store, images["miner"], Verdict.MALICIOUS)
    host = images["host"]
    document = review(
        kind, f"{host}/shop/miner:1", f"{host}/shop/web@{images['web']}", f"{host}/shop/web:1"
    )
    answer = post(make_client(), document)
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    assert f"container 'web' image {host}/shop/miner:1 is malicious" in answer["status"]["message"]
    assert "stratum-login: Stratum mining login" in answer["status"]["message"]
    decisions = store.admissions()
    assert {(d.image, d.digest, d.allowed) for d in decisions} == {
        (f"{host}/shop/miner:1", images["miner"], False),
        (f"{host}/shop/web@{images['web']}", images["web"], False),
        (f"{host}/shop/web:1", images["web"], False),
    }
    assert {d.kind for d in decisions} == {document["request"]["kind"]["kind"]}


@pytest.mark.parametrize("kind", ["pod", "cronjob"])
def test_clean_images_are_allowed_silently(make_client, store, images, kind) -> None:
    judged(store, images["web"], Verdict.CLEAN)
    host = images["host"]
    answer = post(
        make_client(),
        review(
            kind, f"{host}/shop/web:1", f"{host}/shop/web@{images['web']}", f"{host}/shop/web:1"
        ),
    )
    assert answer == {"uid": answer["uid"], "allowed": True}


def test_a_malicious_ephemeral_debug_container_is_denied(make_client, store, images) -> None:
    judged(store, images["web"], Verdict.CLEAN)
    judged(store, images["miner"], Verdict.MALICIOUS)
    host = images["host"]
    document = review(
        "pod-ephemeralcontainers", f"{host}/shop/web:1", f"{host}/shop/web:1", f"{host}/shop/web:1"
    )
    document["request"]["object"]["spec"]["ephemeralContainers"][0]["image"] = (
        f"{host}/shop/miner:1"
    )
    answer = post(make_client(), document)
    assert (
        answer["allowed"] is False
        and "ephemeral container 'debugger-x2k'" in answer["status"]["message"]
    )


def test_the_decision_follows_the_digest_when_a_tag_moves(
    make_client, store, images, registry
) -> None:
    judged(store, images["web"], Verdict.CLEAN)
    judged(store, images["miner"], Verdict.MALICIOUS)
    host = images["host"]
    client = make_client(admission_tag_ttl_seconds=0.0)  # look the tag up on every review
    registry.push(images["web_layout"], "shop/moving:1")
    document = review(
        "deployment", f"{host}/shop/moving:1", f"{host}/shop/moving:1", f"{host}/shop/moving:1"
    )
    assert post(client, document)["allowed"] is True
    registry.push(images["miner_layout"], "shop/moving:1")  # same tag, now the miner
    document["request"]["uid"] = "705ab4f5-6393-11e8-b7cc-42010a8000aa"
    answer = post(client, document)
    assert answer["allowed"] is False and "stratum-login" in answer["status"]["message"]
    digests = {d.digest for d in store.admissions() if d.image == f"{host}/shop/moving:1"}
    assert digests == {images["web"], images["miner"]}


def test_unknown_digest_warns_and_queues_a_scan(make_client, store, queue, images) -> None:
    host = images["host"]
    answer = post(
        make_client(),
        review("pod", f"{host}/shop/web:1", f"{host}/shop/web:1", f"{host}/shop/web:1"),
    )
    assert answer["allowed"] is True
    assert answer["warnings"] and all(
        "no verdict yet; a scan is queued" in w for w in answer["warnings"]
    )
    (scan,) = store.list_scans()
    assert (scan.digest, scan.source) == (images["web"], Source.ADMISSION)
    assert scan.reference == f"docker://{host}/shop/web@{images['web']}"
    assert queue.submitted == [scan.id]
    assert {d.scan_id for d in store.admissions()} == {scan.id}


def test_unknown_digest_denied_under_the_deny_policy(make_client, store, images) -> None:
    client = make_client(admission=AdmissionPolicy(UnknownPolicy.DENY))
    host = images["host"]
    answer = post(
        client, review("job", f"{host}/shop/web:1", f"{host}/shop/web:1", f"{host}/shop/web:1")
    )
    assert answer["allowed"] is False and "a scan is queued, retry" in answer["status"]["message"]
    assert len(store.list_scans()) == 1


def test_a_tag_that_does_not_resolve_is_unknown(make_client, store, images) -> None:
    host = images["host"]
    answer = post(
        make_client(),
        review("pod", f"{host}/shop/never:1", f"{host}/shop/never:1", f"{host}/shop/never:1"),
    )
    assert answer["allowed"] is True
    assert "could not be resolved" in answer["warnings"][0]
    assert store.list_scans() == []  # nothing to queue without a digest


def test_exempt_namespaces_are_allowed_and_recorded(make_client, store, images) -> None:
    judged(store, images["miner"], Verdict.MALICIOUS)
    client = make_client(admission=AdmissionPolicy(exempt_namespaces=frozenset({"ops"})))
    host = images["host"]
    answer = post(
        client,
        review(
            "pod",
            f"{host}/shop/miner:1",
            f"{host}/shop/miner:1",
            f"{host}/shop/miner:1",
            namespace="ops",
        ),
    )
    assert answer["allowed"] is True
    assert {(d.namespace, d.policy, d.allowed) for d in store.admissions()} == {
        ("ops", "exempt", True)
    }


def test_dry_run_decides_but_records_and_queues_nothing(make_client, store, queue, images) -> None:
    host = images["host"]
    document = review("pod", f"{host}/shop/web:1", f"{host}/shop/web:1", f"{host}/shop/web:1")
    document["request"]["dryRun"] = True
    assert post(make_client(), document)["allowed"] is True
    assert store.admissions() == [] and store.list_scans() == [] and queue.submitted == []


@pytest.mark.parametrize(
    ("content", "content_type", "status", "says"),
    [
        (b"{}", "text/plain", 415, "application/json"),
        (b"{oops", "application/json", 400, "not JSON"),
        (
            b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}',
            "application/json",
            400,
            "not an AdmissionReview",
        ),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}',
            "application/json",
            400,
            "no uid",
        ),
    ],
)
def test_bad_reviews_get_a_clear_4xx(
    make_client, store, content, content_type, status, says
) -> None:
    answer = make_client().post(
        "/k8s/validate", content=content, headers={"Content-Type": content_type}
    )
    assert answer.status_code == status and says in answer.json()["error"]["message"]
    assert store.admissions() == []


def test_latency_is_in_the_admission_histogram(make_client, store, images) -> None:
    client = make_client()
    judged(store, images["miner"], Verdict.MALICIOUS)
    host = images["host"]
    post(
        client,
        review("pod", f"{host}/shop/miner:1", f"{host}/shop/miner:1", f"{host}/shop/miner:1"),
    )
    metrics = client.get("/metrics").text
    assert 'detonate_admission_latency_seconds_count{decision="denied"}' in metrics


def test_every_kind_review_is_a_distinct_document() -> None:
    """The fixtures really differ by kind (the test above would pass vacuously otherwise)."""
    kinds = {
        json.loads((REVIEWS / f"{k}.json").read_text())["request"]["kind"]["kind"] for k in KINDS
    }
    assert len(kinds) == len(KINDS)
