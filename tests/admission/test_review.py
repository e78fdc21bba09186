"""AdmissionReview v1 documents for a Pod and every workload kind with a pod template: every
container, init container and ephemeral container image is found; nothing else is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detonate.admission.review import ContainerImage, parse_review, response
from detonate.errors import BadPayload

REVIEWS = Path(__file__).parent / "reviews"
SIDECAR = "registry.example.test/shop/proxy@sha256:" + "b" * 64
EXPECTED = (
    ContainerImage("container", "web", "registry.example.test/shop/web:1.4"),
    ContainerImage("container", "sidecar", SIDECAR),
    ContainerImage("init container", "migrate", "registry.example.test/shop/migrate:3"),
)
KINDS = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
]


def review(name: str) -> Any:
    return json.loads((REVIEWS / name).read_text())


@pytest.mark.parametrize("kind", KINDS)
def test_every_image_of_every_kind(kind: str) -> None:
    document = review(f"{kind.lower()}.json")
    request = parse_review(document)
    assert request.kind == kind
    assert request.uid == document["request"]["uid"]
    assert (request.namespace, request.operation, request.user) == ("shop", "CREATE", "admin")
    assert request.images == EXPECTED


def test_ephemeral_containers_through_the_subresource() -> None:
    request = parse_review(review("pod-ephemeralcontainers.json"))
    assert request.sub_resource == "ephemeralcontainers"
    assert request.images[-1] == ContainerImage(
        "ephemeral container", "debugger-x2k", "registry.example.test/tools/debug:1"
    )


def test_pre_1_22_ephemeral_containers_object() -> None:
    document = review("pod-ephemeralcontainers.json")
    document["request"]["kind"]["kind"] = "EphemeralContainers"
    document["request"]["object"] = {
        "kind": "EphemeralContainers",
        "ephemeralContainers": [{"name": "dbg", "image": "busybox:1.36"}],
    }
    images = parse_review(document).images
    assert images == (ContainerImage("ephemeral container", "dbg", "busybox:1.36"),)


def test_delete_has_no_images_to_judge() -> None:
    document = review("deployment.json")
    document["request"].update(operation="DELETE", object=None, oldObject={"spec": {}})
    assert parse_review(document).images == ()


def test_kinds_without_pods_have_no_images() -> None:
    document = review("pod.json")
    document["request"]["kind"]["kind"] = "ConfigMap"
    document["request"]["object"] = {"data": {"containers": "not a pod"}}
    assert parse_review(document).images == ()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda d: d.update(apiVersion="admission.k8s.io/v1beta1"),
            "not an AdmissionReview admission.k8s.io/v1",
        ),
        (lambda d: d["request"].pop("uid"), "no uid"),
        (lambda d: d.update(request="x"), "request is not a JSON object"),
        (lambda d: d["request"]["object"]["spec"].update(containers={"a": 1}), "not a list"),
        (lambda d: d["request"]["object"]["spec"]["containers"][0].pop("image"), "has no image"),
    ],
)
def test_malformed_reviews_are_refused(change: Any, says: str) -> None:
    document = review("pod.json")
    change(document)
    with pytest.raises(BadPayload, match=says):
        parse_review(document)


def test_response_shape() -> None:
    denied = response("u-1", False, "detonate: malicious", ("w1",))
    assert denied == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "u-1",
            "allowed": False,
            "status": {"code": 403, "message": "detonate: malicious"},
            "warnings": ["w1"],
        },
    }
    assert response("u-2", True)["response"] == {"uid": "u-2", "allowed": True}
