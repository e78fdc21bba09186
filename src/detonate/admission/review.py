"""AdmissionReview v1 requests → the container images the object would run.

    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
     "request": {"uid": "705ab4f5-…", "kind": {"group": "apps", "version": "v1",
                 "kind": "Deployment"}, "namespace": "shop", "operation": "CREATE",
                 "object": {"spec": {"template": {"spec": {"containers": [
                     {"name": "web", "image": "registry.test/shop/web:1"}]}}}}}}

Where the pod spec sits, by kind: a Pod's `spec`; a workload's `spec.template.spec`; a CronJob's
`spec.jobTemplate.spec.template.spec`. Ephemeral containers also arrive through the
`pods/ephemeralcontainers` subresource, whose object is the Pod (or, from API servers before
1.22, an `EphemeralContainers` object with the list at its top).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from detonate.errors import BadPayload

API_VERSION = "admission.k8s.io/v1"
TEMPLATE_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "ReplicationController",
)
CONTAINER_LISTS = (
    ("containers", "container"),
    ("initContainers", "init container"),
    ("ephemeralContainers", "ephemeral container"),
)


@dataclass(frozen=True)
class ContainerImage:
    role: str  # "container", "init container", "ephemeral container"
    name: str
    image: str  # as written in the spec: "nginx:1.25", "registry.test/app@sha256:…"

    def describe(self) -> str:
        return f"{self.role} {self.name!r} ({self.image})"


@dataclass(frozen=True)
class ReviewRequest:
    uid: str
    kind: str  # "Pod", "Deployment", …
    namespace: str
    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    name: str
    sub_resource: str
    images: tuple[ContainerImage, ...]
    user: str = ""
    dry_run: bool = False  # `kubectl --dry-run=server`: decide, but record and queue nothing


def parse_review(document: object) -> ReviewRequest:
    review = _object(document, "the body")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != "AdmissionReview":
        raise BadPayload(
            f"not an AdmissionReview {API_VERSION} (apiVersion {review.get('apiVersion')!r}, "
            f"kind {review.get('kind')!r})",
            "set admissionReviewVersions: [v1] in the ValidatingWebhookConfiguration",
        )
    request = _object(review.get("request"), "request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadPayload(
            "the AdmissionReview request has no uid", "the API server always sends one"
        )
    kind = _text(_object(request.get("kind") or {}, "request.kind"), "kind")
    operation = _text(request, "operation")
    sub_resource = _text(request, "subResource")
    user = _text(_object(request.get("userInfo") or {}, "request.userInfo"), "username")
    obj = request.get("object")
    images: tuple[ContainerImage, ...] = ()
    if operation in ("CREATE", "UPDATE") and obj is not None:
        images = images_of(kind, _object(obj, "request.object"))
    return ReviewRequest(
        uid=uid,
        kind=kind,
        namespace=_text(request, "namespace"),
        operation=operation,
        name=_text(request, "name"),
        sub_resource=sub_resource,
        images=images,
        user=user,
        dry_run=request.get("dryRun") is True,
    )


def images_of(kind: str, obj: Mapping[str, Any]) -> tuple[ContainerImage, ...]:
    """Every image a Pod-bearing object names. Kinds without pods have none."""
    if kind == "EphemeralContainers":  # the pre-1.22 subresource object
        return _images({"ephemeralContainers": obj.get("ephemeralContainers") or []})
    spec = _object(obj.get("spec") or {}, f"the {kind}'s spec")
    if kind == "Pod":
        return _images(spec)
    if kind == "CronJob":
        job = _object(spec.get("jobTemplate") or {}, "spec.jobTemplate")
        spec = _object(job.get("spec") or {}, "spec.jobTemplate.spec")
    elif kind not in TEMPLATE_KINDS:
        return ()
    template = _object(spec.get("template") or {}, "the pod template")
    return _images(_object(template.get("spec") or {}, "the pod template's spec"))


def _images(pod_spec: Mapping[str, Any]) -> tuple[ContainerImage, ...]:
    found = []
    for key, role in CONTAINER_LISTS:
        containers = pod_spec.get(key) or []
        if not isinstance(containers, list):
            raise BadPayload(f"{key} is not a list", "send the object as the API server has it")
        for number, raw in enumerate(containers):
            container = _object(raw, f"{key}[{number}]")
            image = _text(container, "image")
            if not image:
                raise BadPayload(f"{key}[{number}] has no image", "every container names one")
            found.append(ContainerImage(role, _text(container, "name"), image))
    return tuple(found)


def response(
    uid: str, allowed: bool, message: str = "", warnings: tuple[str, ...] = (), code: int = 0
) -> dict[str, Any]:
    """The AdmissionReview v1 answer. The API server shows `status.message` to the user on a
    denial and prints each warning (kubectl: "Warning: …")."""
    answer: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if message or not allowed:
        answer["status"] = {"code": code or (200 if allowed else 403), "message": message}
    if warnings:
        answer["warnings"] = list(warnings)
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": answer}


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadPayload(f"{what} is not a JSON object", "send an AdmissionReview v1")
    return value


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""
