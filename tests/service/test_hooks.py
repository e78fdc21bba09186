"""/hooks/*: real payloads through the app into a real store; the registry lookups they need go
to the real docker-registry with the real skopeo. One scan per digest, whatever the flood."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from detonate.factory import build_sample
from detonate.service.hook_auth import github_signature
from detonate.store import ScanStatus, Source

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "test-only-hook-secret"  # what conftest.py configures for every sender
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DISTRIBUTION_TYPE = "application/vnd.docker.distribution.events.v1+json"
BEARER = {"Authorization": f"Bearer {SECRET}", "Content-Type": DISTRIBUTION_TYPE}
WEB_DIGEST = "sha256:74b01e6a397d9824ff8615d21872ef855c33bbc8373fc684b5575b5d6b6aae39"


def body(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def test_distribution_push_queues_one_scan_and_records_the_tag(make_client, store, queue) -> None:
    answer = make_client().post(
        "/hooks/distribution", content=body("distribution-manifest-push.json"), headers=BEARER
    )
    assert answer.status_code == 202
    (accepted,) = answer.json()["accepted"]
    assert accepted["digest"] == WEB_DIGEST and accepted["created"] is True
    scan = store.get_scan(accepted["scan"])
    assert scan is not None and scan.status is ScanStatus.QUEUED and scan.source is Source.WEBHOOK
    assert scan.reference == f"docker://127.0.0.1:5902/team/web@{WEB_DIGEST}"
    assert queue.submitted == [scan.id]
    (seen,) = store.tag_history("127.0.0.1:5902/team/web", "1.0")
    assert seen.digest == WEB_DIGEST and seen.source is Source.WEBHOOK


def test_a_flood_of_one_push_is_one_scan(make_client, store, queue) -> None:
    client = make_client()
    payload = body("distribution-manifest-push.json")

    def post(_: int) -> Any:
        return client.post("/hooks/distribution", content=payload, headers=BEARER)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(64)))
    assert {a.status_code for a in answers} == {202}
    scans = {a.json()["accepted"][0]["scan"] for a in answers}
    assert len(scans) == 1
    assert sum(a.json()["accepted"][0]["created"] for a in answers) == 1
    assert len(queue.submitted) == 1
    assert len(store.list_scans()) == 1


def test_pulls_and_blob_pushes_are_acknowledged_and_ignored(make_client, store) -> None:
    client = make_client()
    for name in (
        "distribution-pull.json",
        "distribution-blob-push.json",
        "distribution-untagged-child-push.json",
    ):
        answer = client.post("/hooks/distribution", content=body(name), headers=BEARER)
        assert answer.status_code == 202
        assert answer.json()["accepted"] == [] and len(answer.json()["ignored"]) == 1
    assert store.list_scans() == []


@pytest.mark.parametrize(
    ("headers", "content", "status", "says"),
    [
        ({"Authorization": "Bearer wrong", "Content-Type": DISTRIBUTION_TYPE}, None, 401, "secret"),
        ({"Content-Type": DISTRIBUTION_TYPE}, None, 401, "secret"),
        ({**BEARER, "Content-Type": "text/plain"}, None, 415, "JSON"),
        (BEARER, b"{not json", 400, "not JSON"),
        (BEARER, b'{"events": "many"}', 422, "no `events` list"),
        (BEARER, b"[" * 2_000_000, 413, "larger than"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_change_nothing(
    make_client, store, queue, headers, content, status, says
) -> None:
    payload = content if content is not None else body("distribution-manifest-push.json")
    answer = make_client().post("/hooks/distribution", content=payload, headers=headers)
    assert answer.status_code == status
    assert says in answer.json()["error"]["message"]
    assert store.list_scans() == [] and queue.submitted == []


def test_a_hook_without_a_secret_is_switched_off(make_client, store) -> None:
    client = make_client(hook_secrets={"harbor": SECRET})
    answer = client.post(
        "/hooks/distribution", content=body("distribution-manifest-push.json"), headers=BEARER
    )
    assert answer.status_code == 404 and "no distribution hook" in answer.json()["error"]["message"]
    assert client.post("/hooks/quay", content=b"{}", headers=BEARER).status_code == 404
    assert store.list_scans() == []


@pytest.mark.registry
def test_harbor_push_resolves_in_the_background_then_queues(
    make_client, store, queue, registry, tmp_path
) -> None:
    sample = build_sample(SAMPLES / "benign-web", tmp_path)
    registry.push(f"oci:{sample.layout}:{sample.tag}", "harbor/web:2")
    document = json.loads(body("harbor-push-artifact-tagged.json"))
    resource = document["event_data"]["resources"][0]
    resource.update(digest=sample.digest, tag="2", resource_url=f"{registry.host}/harbor/web:2")
    document["event_data"]["repository"]["repo_full_name"] = "harbor/web"
    client = make_client()
    answer = client.post("/hooks/harbor", json=document, headers={"Authorization": SECRET})
    assert answer.status_code == 202
    assert answer.json()["accepted"] == [
        {"image": f"{registry.host}/harbor/web", "tag": "2", "status": "resolving"}
    ]
    assert client.app.state.push_intake.wait_idle(30)
    (scan,) = store.list_scans()
    assert scan.digest == sample.digest and queue.submitted == [scan.id]
    assert store.latest_digest(f"{registry.host}/harbor/web", "2") == sample.digest


@pytest.mark.registry
def test_an_index_push_is_expanded_to_the_configured_platform(
    make_client, store, registry, tmp_path
) -> None:
    from detonate.factory import load_recipe, write_oci_layout

    index = write_oci_layout(
        load_recipe(SAMPLES / "benign-web"), tmp_path / "m.oci", ("linux/amd64", "linux/arm64")
    )
    registry.push(f"oci:{tmp_path / 'm.oci'}:latest", "team/multi:3", all_platforms=True)
    document = json.loads(body("distribution-index-push.json"))
    event = document["events"][0]
    event["target"].update(digest=index, tag="3")
    event["request"]["host"] = registry.host
    client = make_client(platform="linux/arm64")
    answer = client.post("/hooks/distribution", json=document, headers=BEARER)
    assert answer.status_code == 202 and answer.json()["accepted"][0]["status"] == "resolving"
    assert client.app.state.push_intake.wait_idle(30)
    (scan,) = store.list_scans()
    assert scan.platform == "linux/arm64" and scan.digest != index
    assert store.verdict_for(index, "linux/arm64") is None  # queued, not judged yet


def test_ghcr_needs_the_signature_of_the_body(make_client, store) -> None:
    client = make_client()
    payload = body("ghcr-package-published.json")
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "package"}
    bad = client.post(
        "/hooks/ghcr",
        content=payload,
        headers={**headers, "X-Hub-Signature-256": github_signature(b"other", SECRET)},
    )
    assert bad.status_code == 401
    ping = client.post(
        "/hooks/ghcr",
        content=b"{}",
        headers={
            **headers,
            "X-GitHub-Event": "ping",
            "X-Hub-Signature-256": github_signature(b"{}", SECRET),
        },
    )
    assert ping.status_code == 202 and ping.json()["ignored"][0]["reason"] == "not a package event"
    good = client.post(
        "/hooks/ghcr",
        content=payload,
        headers={**headers, "X-Hub-Signature-256": github_signature(payload, SECRET)},
    )
    assert good.status_code == 202
    # The digest is an index on ghcr.io, which this machine cannot reach: the lookup fails in
    # the background, is counted, and queues nothing.
    intake = client.app.state.push_intake
    assert intake.wait_idle(60)
    assert intake.failures == 1 and store.list_scans() == []


def test_dockerhub_secret_is_in_the_query(make_client, store) -> None:
    client = make_client()
    payload = body("dockerhub-push.json")
    headers = {"Content-Type": "application/json"}
    assert client.post("/hooks/dockerhub", content=payload, headers=headers).status_code == 401
    answer = client.post(f"/hooks/dockerhub?secret={SECRET}", content=payload, headers=headers)
    assert answer.status_code == 202
    assert answer.json()["accepted"] == [
        {"image": "docker.io/svendowideit/testhook", "tag": "latest", "status": "resolving"}
    ]
    # docker.io is not reachable here either: nothing is queued, nothing crashes.
    assert client.app.state.push_intake.wait_idle(60)
    assert store.list_scans() == []
