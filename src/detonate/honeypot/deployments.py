"""A deployment becomes a detonation: the attacker's image, queued with the attacker's command.

    profile = profile_of(deployment)   # "hp-3f2a…": the command is part of the cache key
    scan, created = queue_scan(store, deployment)
    options = options_for_deployment(config, base)   # the sandbox runs it as the attacker did

The store keys scans by digest and profile. Attackers run a clean base image (alpine) with a
malicious command, so the profile carries a hash of image, entrypoint, command, env, user and
host binds: the same alpine with another command is another scan, a repeated deployment is the
same one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from detonate.honeypot.daemon import Deployment
from detonate.model.options import ScanOptions
from detonate.static.base64_stage import decoded_stages
from detonate.store import ScanRecord, Source, Store

PROFILE_PREFIX = "hp-"
PLATFORM = "linux/amd64"


def profile_of(deployment: Deployment) -> str:
    run = {
        "image": deployment.image,
        "entrypoint": deployment.entrypoint,
        "cmd": deployment.cmd,
        "env": sorted(deployment.env),
        "user": deployment.user,
    }
    if deployment.binds:  # what the host hands the command changes what it does
        run["binds"] = list(deployment.binds)
    digest = hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()
    return PROFILE_PREFIX + digest[: 32 - len(PROFILE_PREFIX)]


def reference_of(image: str) -> str:
    """The attacker's image name as a skopeo reference ("alpine:3.19" → docker://alpine:3.19).
    Always docker://: a name the daemon accepted is never a local transport or a URL."""
    return f"docker://{image}"


def decoded_commands(deployment: Deployment) -> tuple[str, ...]:
    """base64 stages in the command, entrypoint and env, decoded (nested ones followed)."""
    texts = [" ".join((deployment.entrypoint or ()) + (deployment.cmd or ())), *deployment.env]
    stages: list[str] = []
    for text in texts:
        for stage in decoded_stages(text):
            if stage not in stages:
                stages.append(stage)
    return tuple(stages)


def queue_scan(store: Store, deployment: Deployment, digest: str = "") -> tuple[ScanRecord, bool]:
    """Queue the scan of the deployment; nothing runs here. `digest` "" when not resolved (the
    honeypot pulls nothing): the worker then scans by the name the attacker gave."""
    return store.request_scan(
        reference_of(deployment.image),
        digest=digest,
        platform=PLATFORM,
        source=Source.HONEYPOT,
        profile=profile_of(deployment),
    )


def options_for_deployment(config: dict[str, Any], base: ScanOptions) -> ScanOptions:
    """Scan options whose sandbox run uses the deployment's entrypoint, command and env, and
    its host binds (served from the sandbox's fake host tree, never the worker's host)."""
    entrypoint = config.get("entrypoint")
    cmd = config.get("cmd")
    return replace(
        base,
        static_only=False,
        sandbox=replace(
            base.sandbox,
            entrypoint=tuple(entrypoint) if entrypoint is not None else None,
            cmd=tuple(cmd) if cmd is not None else None,
            env=tuple(config.get("env") or ()),
            binds=tuple(str(b) for b in config.get("binds") or ()),
        ),
    )


def as_deployed(store: Store, record: ScanRecord, options: ScanOptions) -> ScanOptions:
    """The worker's options for a honeypot's scan: run as the attacker ran it (unchanged when no
    deployment queued this scan)."""
    from detonate.honeypot.records import deployment_config

    config = deployment_config(store, record.id)
    return options if config is None else options_for_deployment(config, options)
