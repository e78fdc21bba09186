"""deploy/kubernetes/ against the official Kubernetes OpenAPI schemas (kubernetes-validate ships
them), strictly: unknown fields fail. No API server can run on this machine, so nothing here is
applied to a cluster; the schema check and the assertions below are what can be proven here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from detonate.admission.review import TEMPLATE_KINDS

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
# The oldest Kubernetes still commonly run and the newest the package knows.
VERSIONS = ["1.28.0", kubernetes_validate.latest_version()]


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def one(kind: str) -> dict[str, Any]:
    (match,) = [doc for doc in documents() if doc["kind"] == kind]
    return match


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version: str) -> None:
    kinds = set()
    for document in documents():
        kubernetes_validate.validate(document, version, strict=True)
        kinds.add(document["kind"])
    assert {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Secret",
        "Deployment",
        "Service",
        "ValidatingWebhookConfiguration",
    } <= kinds


def test_a_broken_manifest_is_caught() -> None:
    """The check can fail: a misspelt field is refused in strict mode."""
    webhook = one("ValidatingWebhookConfiguration")
    webhook["webhooks"][0]["failurePolicyy"] = "Ignore"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(webhook, VERSIONS[-1], strict=True)


def test_webhook_configuration() -> None:
    (webhook,) = one("ValidatingWebhookConfiguration")["webhooks"]
    assert webhook["failurePolicy"] == "Ignore"
    assert webhook["timeoutSeconds"] == 3
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["sideEffects"] in ("None", "NoneOnDryRun")
    assert webhook["clientConfig"]["service"] == {
        "namespace": "detonate",
        "name": "detonate",
        "path": "/k8s/validate",
        "port": 443,
    }
    (excluded,) = webhook["namespaceSelector"]["matchExpressions"]
    assert excluded["key"] == "kubernetes.io/metadata.name" and excluded["operator"] == "NotIn"
    assert {"kube-system", "detonate"} <= set(excluded["values"])


def test_rules_cover_every_kind_the_review_parser_reads() -> None:
    (webhook,) = one("ValidatingWebhookConfiguration")["webhooks"]
    covered = {
        (group, resource)
        for rule in webhook["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        if {"CREATE", "UPDATE"} <= set(rule["operations"])
    }
    resource_of = {
        "Deployment": ("apps", "deployments"),
        "StatefulSet": ("apps", "statefulsets"),
        "DaemonSet": ("apps", "daemonsets"),
        "ReplicaSet": ("apps", "replicasets"),
        "Job": ("batch", "jobs"),
        "ReplicationController": ("", "replicationcontrollers"),
    }
    wanted = {resource_of[kind] for kind in TEMPLATE_KINDS}
    wanted |= {("", "pods"), ("", "pods/ephemeralcontainers"), ("batch", "cronjobs")}
    assert wanted <= covered


def test_service_reaches_the_container_and_the_pod_is_unprivileged() -> None:
    deployment = one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert one("Service")["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"].get("privileged", False) is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    secrets = {doc["metadata"]["name"] for doc in documents() if doc["kind"] == "Secret"}
    mounted = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    referenced = {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])}
    assert mounted | referenced <= secrets


def test_the_deployment_starts_detonate_with_flags_it_has() -> None:
    from detonate.cli.main import build_parser

    (container,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "serve"
    assert (args.admission_unknown, args.port) == ("warn", 8443)
    assert {"kube-system", "detonate"} <= set(args.admission_exempt_namespace)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert (
        str(args.tls_cert).startswith(mounts["tls"])
        and str(args.hook_secret_file) == mounts["hooks"]
    )
