"""resolve(): a reference → the digest a scan of it would have, from one manifest lookup.

    resolve("docker://registry.test/app:1", AcquireOptions(timeout_seconds=20))
    → Resolved(digest="sha256:…(linux/amd64 manifest)", index_digest="sha256:…(the list)", …)

The service keys scans by digest before it queues them: a tag that moves later never mixes two
images' verdicts, and two names of one image share one scan. Nothing is copied.
"""

from __future__ import annotations

from dataclasses import dataclass

from detonate.acquire.interface import ImageSource
from detonate.acquire.manifest import (
    check_image_manifest,
    is_index,
    parse_json,
    select_platform,
    sha256_digest,
    verify_blob,
)
from detonate.acquire.reference import Reference, parse_reference
from detonate.acquire.skopeo import SkopeoSource
from detonate.model.options import AcquireOptions


@dataclass(frozen=True)
class Resolved:
    reference: Reference
    digest: str  # the platform image's manifest digest: what the report's image.digest says
    index_digest: str  # the manifest list's digest when the reference named one, else ""
    platform: str

    @property
    def pinned(self) -> str:
        """What a worker scans: the same repository, by digest (a moved tag cannot change it)."""
        if self.reference.transport == "docker":
            return str(self.reference.pinned(self.digest))
        return str(self.reference)

    @property
    def top_digest(self) -> str:
        """What the tag pointed at: the list when there is one."""
        return self.index_digest or self.digest


def resolve(
    reference: str | Reference, options: AcquireOptions, source: ImageSource | None = None
) -> Resolved:
    """Raises UsageError for a malformed reference and AcquireError subclasses for lookups
    that fail (not found, refused, unreachable within `options.timeout_seconds`)."""
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    source = source or SkopeoSource(options)
    raw = source.raw_manifest(ref)
    top = sha256_digest(raw)
    if ref.digest:
        verify_blob(raw, ref.digest, "manifest")
    document = parse_json(raw, f"the manifest of {ref}")
    platform = str(options.platform)
    if is_index(document):
        return Resolved(ref, select_platform(document, options.platform), top, platform)
    check_image_manifest(document, str(ref))
    return Resolved(ref, top, "", platform)
