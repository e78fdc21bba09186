"""The local content-addressed cache: one OCI layout shared by every image, so a blob is stored
once, plus small records that map what a user asked for to the manifest we hold.

    <cache_dir>/oci/          OCI layout written by skopeo (index.json names every entry)
    <cache_dir>/refs/<key>    {"manifest": "sha256:…", "source_digest": "sha256:…"}
    <cache_dir>/lock          held while pulling: skopeo rewrites index.json
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from detonate.acquire.reference import Reference
from detonate.model.image import Platform

REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class CacheRecord:
    manifest: str  # digest of the manifest in the cache layout
    source_digest: str = ""  # the digest the source knows it by, when it told us
    # The source's own config when the copy converted it (Docker v2 → OCI), else "".
    source_config: str = ""


def digest_key(digest: str, platform: Platform | None = None) -> str:
    """Cache key (also a valid OCI ref name) for a manifest digest, or for an image index
    digest plus the platform chosen from it: "sha256-0123…" / "sha256-0123…-linux-arm64-v8"."""
    key = digest.replace(":", "-")
    return f"{key}-{str(platform).replace('/', '-')}" if platform else key


def local_key(reference: Reference, platform: Platform) -> str | None:
    """Key for an archive or layout on disk: its path, tag and file identity (size, mtime,
    inode), so an unchanged file is neither copied nor re-read. None if it does not exist."""
    path = Path(reference.path)
    identity_file = path / "index.json" if reference.transport == "oci" else path
    try:
        stat = identity_file.stat()
    except OSError:
        return None
    _, _, inner = reference.location.partition(":")
    identity = [
        reference.transport,
        str(path.resolve()),
        inner,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ino,
        str(platform),
    ]
    return "local-" + hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:40]


class LayoutCache:
    def __init__(self, cache_dir: Path) -> None:
        self.root = Path(cache_dir)
        self.layout = self.root / "oci"
        self.blobs_dir = self.layout / "blobs"
        self._records = self.root / "refs"

    @contextmanager
    def locked(self) -> Iterator[None]:
        self._records.mkdir(parents=True, exist_ok=True)
        with (self.root / "lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.blobs_dir / algorithm / hexdigest

    def read_blob(self, digest: str) -> bytes | None:
        try:
            return self.blob_path(digest).read_bytes()
        except OSError:
            return None

    def has_blob(self, digest: str, size: int) -> bool:
        try:
            return self.blob_path(digest).stat().st_size == size
        except OSError:
            return False

    def tagged(self, ref_name: str) -> str | None:
        """The manifest digest index.json names `ref_name`, as skopeo wrote it."""
        try:
            index: dict[str, Any] = json.loads((self.layout / "index.json").read_bytes())
        except (OSError, ValueError):
            return None
        for entry in index.get("manifests", []):
            if (entry.get("annotations") or {}).get(REF_NAME) == ref_name:
                return str(entry["digest"])
        return None

    def record(self, key: str) -> CacheRecord | None:
        try:
            data = json.loads((self._records / key).read_text())
            return CacheRecord(
                str(data["manifest"]),
                str(data.get("source_digest", "")),
                str(data.get("source_config", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_record(self, key: str, record: CacheRecord) -> None:
        partial = self._records / f".{key}.partial"
        partial.write_text(json.dumps(asdict(record), sort_keys=True))
        os.replace(partial, self._records / key)

    def complete_record(self, key: str) -> CacheRecord | None:
        """The record for `key` if its manifest, config and every layer are present with the
        sizes the manifest gives (contents are verified when loaded, layers by unpack)."""
        record = self.record(key)
        if record is None:
            return None
        data = self.read_blob(record.manifest)
        if data is None:
            return None
        try:
            manifest = json.loads(data)
            blobs = [manifest["config"], *manifest.get("layers", [])]
            present = all(self.has_blob(blob["digest"], int(blob["size"])) for blob in blobs)
        except (ValueError, KeyError, TypeError):
            return None
        if record.source_config and self.read_blob(record.source_config) is None:
            return None
        return record if present else None

    def store_blob(self, data: bytes) -> str:
        """Add a blob by content (skopeo would have written the same bytes to the same path)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            partial.write_bytes(data)
            os.replace(partial, path)
        return digest
