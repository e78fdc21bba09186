"""deploy/fleet/ (workers, Redis, PostgreSQL) against the official Kubernetes OpenAPI schemas
(kubernetes-validate ships them), strictly: unknown fields fail. No API server can run on
this machine, so nothing is applied to a cluster; the schema check and the assertions below
(what the worker settings need from the manifests) are what can be proven here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from detonate.model.options import SandboxOptions, ScanOptions
from detonate.worker import FleetConfig

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "fleet"
VERSIONS = ["1.28.0", kubernetes_validate.latest_version()]


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def one(kind: str, name: str) -> dict[str, Any]:
    (match,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return match


def flag(args: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return value


@pytest.mark.parametrize("version", VERSIONS)
def test_every_fleet_manifest_is_valid_for_kubernetes(version: str) -> None:
    kinds = set()
    for document in documents():
        kubernetes_validate.validate(document, version, strict=True)
        kinds.add(document["kind"])
    assert {"Namespace", "Secret", "StatefulSet", "Service", "DaemonSet"} <= kinds


def test_a_broken_manifest_is_caught() -> None:
    """The check can fail: a misspelt field is refused in strict mode."""
    worker = one("DaemonSet", "detonate-worker")
    worker["spec"]["template"]["spec"]["terminationGracePeriod"] = 10
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, VERSIONS[-1], strict=True)


def test_the_worker_is_privileged_and_outlives_its_scan_on_shutdown() -> None:
    pod = one("DaemonSet", "detonate-worker")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["securityContext"]["privileged"] is True
    assert container["args"][0] == "worker"
    namespace = one("Namespace", "detonate-fleet")["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "privileged"
    timeout = int(flag(container["args"], "timeout"))
    config = FleetConfig("redis://x", scan=ScanOptions(sandbox=SandboxOptions(timeout)))
    # SIGTERM is a warm shutdown: the scan in hand may run up to the hard limit
    assert pod["terminationGracePeriodSeconds"] >= config.time_limit
    assert flag(container["args"], "queue").startswith("redis://redis.detonate-fleet.svc")


def test_redis_keeps_queued_tasks_across_a_restart() -> None:
    redis = one("StatefulSet", "redis")["spec"]
    args = redis["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--appendfsync") + 1] == "always"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert redis["volumeClaimTemplates"]
