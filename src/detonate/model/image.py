"""What `acquire` hands on: an image's manifest, config and layers in the local cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """`linux/arm64/v8` → Platform("linux", "arm64", "v8")."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform must look like os/arch[/variant], got {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool = False
    comment: str = ""


@dataclass(frozen=True)
class ImageConfig:
    """The runtime half of the OCI image config (`config` + `history`)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    user: str = ""
    working_dir: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    healthcheck: tuple[str, ...] = ()
    stop_signal: str = ""
    history: tuple[HistoryEntry, ...] = ()
    diff_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerRef:
    digest: str  # "sha256:…" of the blob as stored (compressed)
    media_type: str
    size: int


@dataclass(frozen=True)
class AcquiredImage:
    """An image present and verified in the local content-addressed cache."""

    reference: str  # as the user wrote it, normalised with a transport: "docker://…"
    digest: str  # manifest digest, "sha256:…"
    platform: Platform
    config_digest: str
    config: ImageConfig
    layers: tuple[LayerRef, ...]
    blobs_dir: Path = field(compare=False)  # …/blobs; a blob lives at blobs_dir/<alg>/<hex>

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.blobs_dir / algorithm / hexdigest
