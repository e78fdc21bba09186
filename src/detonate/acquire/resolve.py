"""A reference → the manifest digest a scan of it would judge, with one manifest lookup.

    docker://registry.test:5000/team/app:1          → sha256:<the image manifest's digest>
    docker://registry.test:5000/team/app:1 (index)  → sha256:<the linux/amd64 entry's digest>

Verdicts are keyed by that digest (the one `acquire` reports), so webhooks, admission and scans
agree on it. Nothing is pulled: `skopeo inspect --raw` of the top manifest only.
"""

from __future__ import annotations

from dataclasses import dataclass

from detonate.acquire.interface import ImageSource
from detonate.acquire.manifest import (
    is_index,
    parse_json,
    select_platform,
    sha256_digest,
    verify_blob,
)
from detonate.acquire.reference import Reference
from detonate.errors import UsageError
from detonate.model.image import Platform


@dataclass(frozen=True)
class ResolvedImage:
    reference: Reference  # as asked
    digest: str  # the platform's image manifest
    platform: Platform
    index_digest: str = ""  # the index it was chosen from, if any

    @property
    def pinned(self) -> Reference:
        return self.reference.pinned(self.digest)


def resolve(source: ImageSource, reference: Reference, platform: Platform) -> ResolvedImage:
    """Raises an AcquireError subclass when the registry cannot say (unreachable, unknown tag,
    no such platform) and UsageError for a non-registry reference."""
    if reference.transport != "docker":
        raise UsageError(f"{reference} is not in a registry", "only docker:// references resolve")
    raw = source.raw_manifest(reference)
    top = sha256_digest(raw)
    if reference.digest:
        verify_blob(raw, reference.digest, "manifest")
    document = parse_json(raw, f"the manifest of {reference}")
    if is_index(document):
        return ResolvedImage(reference, select_platform(document, platform), platform, top)
    return ResolvedImage(reference, top, platform)
