"""acquire(): a reference → a verified image in the local cache, copied only when missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detonate.acquire.cache import CacheRecord, LayoutCache, digest_key, local_key
from detonate.acquire.interface import ImageSource
from detonate.acquire.manifest import (
    check_image_manifest,
    config_platform,
    image_config,
    is_index,
    parse_json,
    platform_error,
    platforms_of,
    select_platform,
    sha256_digest,
    verify_blob,
)
from detonate.acquire.reference import Reference, parse_reference
from detonate.acquire.skopeo import PULL_TASK, SkopeoSource
from detonate.errors import AcquireError, DigestMismatch, UnsupportedMediaType, UnsupportedPlatform
from detonate.model.image import AcquiredImage, LayerRef, Platform
from detonate.model.options import AcquireOptions
from detonate.progress import Progress


def acquire(
    reference: str,
    cache_dir: Path,
    options: AcquireOptions,
    progress: Progress,
    source: ImageSource | None = None,
) -> AcquiredImage:
    """Bring `reference` into the cache under `cache_dir` and return it, verified.

    docker:// tags cost one manifest lookup; digests and unchanged local archives found in the
    cache cost nothing. Manifest and config bytes are checked against their digests and every
    layer's size against the manifest here; the layers' sha256 is left to unpack, which hashes
    them while streaming anyway (reading each layer twice would double the I/O of a big image).
    """
    ref = parse_reference(reference)
    source = source or SkopeoSource(options)
    cache = LayoutCache(cache_dir)
    progress.start(PULL_TASK, None, "blobs")
    try:
        with cache.locked():
            if ref.transport == "docker":
                record = _from_registry(ref, source, cache, options.platform, progress)
            else:
                record = _from_local(ref, source, cache, options.platform, progress)
            return _load(cache, record, ref, options.platform)
    finally:
        progress.finish(PULL_TASK)


def _from_registry(
    ref: Reference, source: ImageSource, cache: LayoutCache, platform: Platform, progress: Progress
) -> CacheRecord:
    if ref.digest:
        for key in (digest_key(ref.digest), digest_key(ref.digest, platform)):
            if (hit := cache.complete_record(key)) is not None:
                return hit
    raw = source.raw_manifest(ref)
    top = sha256_digest(raw)
    if ref.digest:
        verify_blob(raw, ref.digest, "manifest")
    document = parse_json(raw, f"the manifest of {ref}")
    alias = None
    if is_index(document):
        manifest_digest = select_platform(document, platform)
        alias = digest_key(top, platform)
    else:
        check_image_manifest(document, str(ref))
        manifest_digest = top
    key = digest_key(manifest_digest)
    record = cache.complete_record(key)
    if record is None:
        # Pinning the digest makes skopeo check the manifest it copies against it.
        pinned = ref.pinned(manifest_digest)
        source.copy(pinned, cache.layout, key, platform, progress)
        cached = _tagged(cache, key, ref)
        source_config = ""
        if cached != manifest_digest:  # converted from Docker v2: keep the original config
            source_config = _keep_source_config(pinned, source, cache, manifest_digest)
        record = CacheRecord(cached, manifest_digest, source_config)
        cache.save_record(key, record)
    if alias:
        cache.save_record(alias, record)
    return record


def _from_local(
    ref: Reference, source: ImageSource, cache: LayoutCache, platform: Platform, progress: Progress
) -> CacheRecord:
    key = local_key(ref, platform) if ref.transport != "docker-daemon" else None
    if key is not None and (hit := cache.complete_record(key)) is not None:
        return hit
    # A daemon's images have no file identity: name the entry after the reference.
    ref_name = key or "daemon-" + sha256_digest(f"{ref}|{platform}".encode())[7:47]
    try:
        source.copy(ref, cache.layout, ref_name, platform, progress)
    except UnsupportedPlatform as error:
        raise _platform_error_listing(ref, source, platform) or error from None
    source_config = ""
    if ref.transport in ("docker-archive", "docker-daemon"):  # converted from Docker v2
        source_config = cache.store_blob(source.raw_config(ref))
    record = CacheRecord(_tagged(cache, ref_name, ref), "", source_config)
    if key is not None:
        cache.save_record(key, record)
    return record


def _keep_source_config(
    pinned: Reference, source: ImageSource, cache: LayoutCache, manifest_digest: str
) -> str:
    manifest = parse_json(_cached_or_raw(pinned, source, cache, manifest_digest), str(pinned))
    config = source.raw_config(pinned)
    verify_blob(config, str(manifest["config"]["digest"]), "config")
    return cache.store_blob(config)


def _cached_or_raw(
    pinned: Reference, source: ImageSource, cache: LayoutCache, manifest_digest: str
) -> bytes:
    raw = cache.read_blob(manifest_digest) or source.raw_manifest(pinned)
    verify_blob(raw, manifest_digest, "manifest")
    cache.store_blob(raw)
    return raw


def _platform_error_listing(
    ref: Reference, source: ImageSource, platform: Platform
) -> UnsupportedPlatform | None:
    """skopeo names the platform it missed but not those present: read the index for them."""
    try:
        document = parse_json(source.raw_manifest(ref), str(ref))
    except AcquireError:
        return None
    return platform_error(platform, platforms_of(document))


def _tagged(cache: LayoutCache, ref_name: str, ref: Reference) -> str:
    digest = cache.tagged(ref_name)
    if digest is None:
        raise AcquireError(
            f"skopeo copied {ref} but the cache at {cache.layout} does not list it",
            "another process may be writing the cache; retry, or remove the cache directory",
        )
    return digest


def _load(
    cache: LayoutCache, record: CacheRecord, ref: Reference, wanted: Platform
) -> AcquiredImage:
    manifest_bytes = _cached_blob(cache, record.manifest, "manifest")
    manifest = parse_json(manifest_bytes, f"the manifest of {ref}")
    check_image_manifest(manifest, str(ref))
    config_digest = str(manifest["config"]["digest"])
    config_bytes = _cached_blob(cache, config_digest, "config")
    _check_size(config_bytes, manifest["config"], "config")
    if record.source_config:
        config_digest = record.source_config
        config_bytes = _cached_blob(cache, config_digest, "original config")
    config = parse_json(config_bytes, f"the config of {ref}")
    layers = tuple(
        LayerRef(str(layer["digest"]), str(layer["mediaType"]), int(layer["size"]))
        for layer in manifest.get("layers", [])
    )
    for layer in layers:
        if not cache.has_blob(layer.digest, layer.size):
            raise DigestMismatch(
                f"layer {layer.digest} of {ref} is missing or not {layer.size} bytes",
                f"the cache is damaged: remove {cache.root} and pull again",
            )
    platform = config_platform(config)
    if (platform.os, platform.architecture) != (wanted.os, wanted.architecture) or (
        wanted.variant and platform.variant and wanted.variant != platform.variant
    ):
        raise platform_error(wanted, [platform])
    image = image_config(config)
    if len(image.diff_ids) != len(layers):
        raise UnsupportedMediaType(
            f"the config of {ref} lists {len(image.diff_ids)} diff_ids for {len(layers)} layers",
            "the image is malformed",
        )
    return AcquiredImage(
        reference=str(ref),
        digest=record.source_digest or record.manifest,
        platform=platform,
        config_digest=config_digest,
        config=image,
        layers=layers,
        blobs_dir=cache.blobs_dir,
    )


def _cached_blob(cache: LayoutCache, digest: str, what: str) -> bytes:
    data = cache.read_blob(digest)
    if data is None:
        raise DigestMismatch(
            f"the {what} {digest} is missing from the cache", f"remove {cache.root} and retry"
        )
    verify_blob(data, digest, what)
    return data


def _check_size(data: bytes, descriptor: dict[str, Any], what: str) -> None:
    if len(data) != int(descriptor.get("size", -1)):
        raise DigestMismatch(
            f"the {what} is {len(data)} bytes, the manifest says {descriptor.get('size')}",
            "the image is malformed or tampered with",
        )
