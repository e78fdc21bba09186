"""What the exports say about a scan's image: registry, repository, tag, manifest digest.

    image = scanned_image(scan)       # ScannedImage("docker.io", "library/alpine", "3.19", …)
    image.manifest_url                # where the registry serves that manifest (the STIX artifact)

Honeypot scans are queued by name (the honeypot pulls nothing): their row has no digest, the
report written by the worker does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from detonate.acquire.reference import parse_reference
from detonate.errors import DetonateError
from detonate.store.models import Scan

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ScannedImage:
    reference: str  # as scanned: "docker://alpine:3.19"
    registry: str  # "docker.io", "registry.test:5000"; "" for local transports
    repository: str  # without the registry: "library/alpine"
    tag: str
    digest: str  # "sha256:…" of the manifest; "" when unknown
    platform: str  # "linux/amd64"

    @property
    def name(self) -> str:
        return self.repository or self.reference

    @property
    def manifest_url(self) -> str:
        """The registry API URL of the manifest by digest; "" unless both are known."""
        if not (self.registry and self.digest):
            return ""
        host = DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry
        return f"https://{host}/v2/{self.repository}/manifests/{self.digest}"


def scanned_image(scan: Scan) -> ScannedImage:
    digest = scan.digest or _report_digest(scan.report_json)
    try:
        ref = parse_reference(scan.reference)
    except DetonateError:
        return ScannedImage(scan.reference, "", "", "", digest, scan.platform)
    if ref.transport != "docker":
        return ScannedImage(scan.reference, "", "", "", digest, scan.platform)
    first, slash, rest = ref.repository.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry = DOCKER_HUB
        repository = ref.repository if slash else f"library/{ref.repository}"
    return ScannedImage(
        scan.reference, registry, repository, ref.tag, digest or ref.digest, scan.platform
    )


def _report_digest(report_json: str | None) -> str:
    if not report_json:
        return ""
    try:
        digest = str(json.loads(report_json).get("image", {}).get("digest", ""))
    except (ValueError, AttributeError):
        return ""
    return digest if _DIGEST.match(digest) else ""
