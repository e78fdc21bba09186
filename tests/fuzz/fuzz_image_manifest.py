"""Manifest, image index and image config JSON, as acquire reads them from a registry or cache.

The input is a manifest or index, then (after the split marker) a config. Contract: the
readers in `acquire/manifest.py` return their documented types or raise AcquireError
(UnsupportedMediaType, UnsupportedPlatform); a manifest that passes `check_image_manifest`
has the shape `acquire._load` reads without looking again (config digest and size, each
layer's digest, media type and size).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fuzz_harness import check, split

from detonate.acquire.manifest import (
    check_image_manifest,
    config_platform,
    image_config,
    is_index,
    parse_json,
    platforms_of,
    select_platform,
)
from detonate.errors import AcquireError
from detonate.model.image import ImageConfig, LayerRef, Platform

TIME_BOUND = 5.0
SEPARATOR = b"\x00\xff\x00"


def seeds() -> Iterator[bytes]:
    from detonate.factory.oci import oci_layout
    from detonate.factory.spec import Healthcheck, ImageSpec

    spec = ImageSpec(
        "fuzz",
        layers=(),
        entrypoint=("/bin/sh", "-c"),
        cmd=("echo hi",),
        user="1000:1000",
        working_dir="/app",
        labels=(("org.opencontainers.image.title", "fuzz"),),
        exposed_ports=("8080/tcp",),
        healthcheck=Healthcheck(("CMD", "true")),
        stop_signal="SIGTERM",
        history=("CMD sh",),
    )
    layout = oci_layout(spec, platforms=("linux/amd64", "linux/arm64/v8"))
    documents = [json.loads(blob) for blob in layout.files.values()]
    configs = [json.dumps(d).encode() for d in documents if "rootfs" in d]
    for document in documents:
        if "manifests" in document or "layers" in document:
            yield json.dumps(document).encode() + SEPARATOR + configs[0]


def _platform(text: bytes) -> Platform:
    return Platform("linux", "arm64", "v8") if text.endswith(b"\n") else Platform()


def fuzz(data: bytes) -> None:
    manifest_bytes, config_bytes = split(data, 2, SEPARATOR)
    try:
        document = parse_json(manifest_bytes, "manifest")
        check(isinstance(document, dict), "parse_json gave no object")
        if is_index(document):
            check(all(isinstance(p, Platform) for p in platforms_of(document)), "platforms_of")
            digest = select_platform(document, _platform(manifest_bytes))
            check(isinstance(digest, str), "select_platform gave no digest string")
        else:
            check_image_manifest(document, "manifest")
            # what acquire._load reads once the manifest passed the check
            str(document["config"]["digest"])
            int(document["config"].get("size", -1))
            for layer in document.get("layers", []):
                LayerRef(str(layer["digest"]), str(layer["mediaType"]), int(layer["size"]))
    except AcquireError:
        pass
    try:
        config = parse_json(config_bytes, "config")
        check(isinstance(config_platform(config), Platform), "config_platform")
        image = image_config(config)
        check(isinstance(image, ImageConfig), "image_config gave no ImageConfig")
        for field in (image.entrypoint, image.cmd, image.env, image.healthcheck, image.diff_ids):
            check(all(isinstance(v, str) for v in field), f"non-string in {field!r}")
        check(all(isinstance(v, str) for v in image.exposed_ports), "exposed_ports")
        check(all(isinstance(k, str) for k, _ in image.labels), "labels")
    except AcquireError:
        pass
