"""Reading manifests and indexes: media types we accept, platform choice, and verification."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from detonate.errors import DigestMismatch, UnsupportedMediaType, UnsupportedPlatform
from detonate.model.image import HistoryEntry, ImageConfig, Platform

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)
# What unpack can read. zstd layers are refused here rather than half-read later.
LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise UnsupportedMediaType(f"{what} is not JSON: {error}", "this is not an image") from None
    if not isinstance(document, dict):
        raise UnsupportedMediaType(f"{what} is not a JSON object", "this is not an image")
    return document


def media_type(document: dict[str, Any]) -> str:
    """A manifest's type: its `mediaType`, else guessed from its shape (OCI makes it optional)."""
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in document:
        return OCI_INDEX
    if "layers" in document and "config" in document:
        return OCI_MANIFEST
    return ""


def is_index(document: dict[str, Any]) -> bool:
    return media_type(document) in INDEX_TYPES


def platforms_of(index: dict[str, Any]) -> list[Platform]:
    found = []
    for entry in index.get("manifests", []):
        platform = entry.get("platform") or {}
        if platform.get("os") and platform.get("architecture"):
            found.append(
                Platform(platform["os"], platform["architecture"], platform.get("variant", ""))
            )
    return found


def select_platform(index: dict[str, Any], wanted: Platform) -> str:
    """The digest of the index entry for `wanted`. A missing variant matches any, as docker
    does (arm64 means arm64/v8)."""
    for entry in index.get("manifests", []):
        platform = entry.get("platform") or {}
        if (
            platform.get("os") == wanted.os
            and platform.get("architecture") == wanted.architecture
            and (not wanted.variant or platform.get("variant", "") in ("", wanted.variant))
        ):
            return str(entry["digest"])
    raise platform_error(wanted, platforms_of(index))


def platform_error(wanted: Platform, available: list[Platform]) -> UnsupportedPlatform:
    names = ", ".join(str(p) for p in available) or "none declared"
    return UnsupportedPlatform(
        f"the image has no {wanted} variant (it provides: {names})",
        "choose one of those with --platform",
    )


def verify_blob(data: bytes, digest: str, what: str) -> None:
    actual = sha256_digest(data)
    if actual != digest:
        raise DigestMismatch(
            f"{what} {digest} has the wrong content (sha256 is {actual})",
            "the cache or the source is corrupt or tampered with; remove the cache entry and "
            "pull again, and do not trust this source",
        )


def check_image_manifest(manifest: dict[str, Any], what: str) -> None:
    kind = media_type(manifest)
    if kind not in MANIFEST_TYPES:
        raise UnsupportedMediaType(
            f"{what} has media type {kind or 'none'!r}, not an image manifest",
            "detonate reads OCI and Docker v2 image manifests",
        )
    config_type = manifest.get("config", {}).get("mediaType", "")
    if config_type not in CONFIG_TYPES:
        raise UnsupportedMediaType(
            f"{what} is not a container image: its config has media type {config_type!r}",
            "this looks like an OCI artifact (a Helm chart, a signature, …), not an image",
        )
    for layer in manifest.get("layers", []):
        if layer.get("mediaType") not in LAYER_TYPES:
            raise UnsupportedMediaType(
                f"{what} has a layer of media type {layer.get('mediaType')!r}",
                "detonate reads tar and tar+gzip layers (not zstd or foreign blobs)",
            )


def image_config(config: dict[str, Any]) -> ImageConfig:
    """The OCI/Docker config JSON → ImageConfig. Example of the part read:
    {"config": {"Entrypoint": ["/bin/sh"], "Healthcheck": {"Test": ["CMD", "true"]}},
     "history": [{"created_by": "RUN …", "empty_layer": true}], "rootfs": {"diff_ids": […]}}"""
    runtime = config.get("config") or {}
    history = tuple(
        HistoryEntry(
            created_by=str(entry.get("created_by", "")),
            empty_layer=bool(entry.get("empty_layer", False)),
            comment=str(entry.get("comment", "")),
        )
        for entry in config.get("history") or []
    )
    healthcheck = (runtime.get("Healthcheck") or {}).get("Test") or []
    return ImageConfig(
        entrypoint=tuple(runtime.get("Entrypoint") or ()),
        cmd=tuple(runtime.get("Cmd") or ()),
        env=tuple(runtime.get("Env") or ()),
        user=str(runtime.get("User") or ""),
        working_dir=str(runtime.get("WorkingDir") or ""),
        exposed_ports=tuple(sorted(runtime.get("ExposedPorts") or {})),
        labels=tuple(sorted((runtime.get("Labels") or {}).items())),
        healthcheck=tuple(healthcheck),
        stop_signal=str(runtime.get("StopSignal") or ""),
        history=history,
        diff_ids=tuple((config.get("rootfs") or {}).get("diff_ids") or ()),
    )


def config_platform(config: dict[str, Any]) -> Platform:
    return Platform(
        str(config.get("os") or "linux"),
        str(config.get("architecture") or "amd64"),
        str(config.get("variant") or ""),
    )
