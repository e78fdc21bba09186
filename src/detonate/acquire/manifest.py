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
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: "[[[[…"
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


def _malformed(what: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(f"{what} is malformed", "the image is malformed or not an image")


def _object(value: Any, what: str) -> dict[str, Any]:
    """`value` when it is a JSON object; None and {} are empty, anything else malformed."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise _malformed(what)
    return value


def _array(value: Any, what: str) -> list[Any]:
    if not value:
        return []
    if not isinstance(value, list):
        raise _malformed(what)
    return value


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = _array(value, what)
    if not all(isinstance(item, str) for item in items):
        raise _malformed(what)
    return tuple(items)


def _entries(index: dict[str, Any]) -> list[dict[str, Any]]:
    """The index's descriptors, each with a string digest."""
    entries = [_object(e, "an image index entry") for e in _array(index.get("manifests"), "index")]
    if not all(isinstance(entry.get("digest"), str) for entry in entries):
        raise _malformed("an image index entry's digest")
    return entries


def _platform_of(entry: dict[str, Any]) -> dict[str, Any]:
    return _object(entry.get("platform"), "an image index entry's platform")


def platforms_of(index: dict[str, Any]) -> list[Platform]:
    found = []
    for entry in _entries(index):
        platform = _platform_of(entry)
        os, arch, variant = (platform.get(k) for k in ("os", "architecture", "variant"))
        if os and arch and isinstance(os, str) and isinstance(arch, str):
            found.append(Platform(os, arch, variant if isinstance(variant, str) else ""))
    return found


def select_platform(index: dict[str, Any], wanted: Platform) -> str:
    """The digest of the index entry for `wanted`. A missing variant matches any, as docker
    does (arm64 means arm64/v8)."""
    for entry in _entries(index):
        platform = _platform_of(entry)
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
    config = _object(manifest.get("config"), f"the config descriptor of {what}")
    config_type = config.get("mediaType", "")
    if config_type not in CONFIG_TYPES:
        raise UnsupportedMediaType(
            f"{what} is not a container image: its config has media type {config_type!r}",
            "this looks like an OCI artifact (a Helm chart, a signature, …), not an image",
        )
    layers = [
        _object(layer, f"a layer of {what}") for layer in _array(manifest.get("layers"), what)
    ]
    for layer in layers:
        if layer.get("mediaType") not in LAYER_TYPES:
            raise UnsupportedMediaType(
                f"{what} has a layer of media type {layer.get('mediaType')!r}",
                "detonate reads tar and tar+gzip layers (not zstd or foreign blobs)",
            )
    # what acquire reads without looking again: each descriptor's digest and size
    for descriptor in (config, *layers):
        size = descriptor.get("size")
        if not isinstance(descriptor.get("digest"), str) or type(size) is not int or size < 0:
            raise _malformed(f"a descriptor of {what} (digest and size)")


def image_config(config: dict[str, Any]) -> ImageConfig:
    """The OCI/Docker config JSON → ImageConfig. Example of the part read:
    {"config": {"Entrypoint": ["/bin/sh"], "Healthcheck": {"Test": ["CMD", "true"]}},
     "history": [{"created_by": "RUN …", "empty_layer": true}], "rootfs": {"diff_ids": […]}}"""
    runtime = _object(config.get("config"), "the image config's config")
    history = tuple(
        HistoryEntry(
            created_by=str(entry.get("created_by", "")),
            empty_layer=bool(entry.get("empty_layer", False)),
            comment=str(entry.get("comment", "")),
        )
        for entry in (
            _object(e, "a history entry") for e in _array(config.get("history"), "history")
        )
    )
    healthcheck = _object(runtime.get("Healthcheck"), "Healthcheck").get("Test")
    labels = _object(runtime.get("Labels"), "Labels")
    if not all(isinstance(value, str) for value in labels.values()):
        raise _malformed("the image config's Labels")
    return ImageConfig(
        entrypoint=_strings(runtime.get("Entrypoint"), "Entrypoint"),
        cmd=_strings(runtime.get("Cmd"), "Cmd"),
        env=_strings(runtime.get("Env"), "Env"),
        user=str(runtime.get("User") or ""),
        working_dir=str(runtime.get("WorkingDir") or ""),
        exposed_ports=tuple(sorted(_object(runtime.get("ExposedPorts"), "ExposedPorts"))),
        labels=tuple(sorted(labels.items())),
        healthcheck=_strings(healthcheck, "Healthcheck"),
        stop_signal=str(runtime.get("StopSignal") or ""),
        history=history,
        diff_ids=_strings(_object(config.get("rootfs"), "rootfs").get("diff_ids"), "diff_ids"),
    )


def config_platform(config: dict[str, Any]) -> Platform:
    return Platform(
        str(config.get("os") or "linux"),
        str(config.get("architecture") or "amd64"),
        str(config.get("variant") or ""),
    )
