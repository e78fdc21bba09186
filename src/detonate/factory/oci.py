"""Image specs → OCI layouts, `oci-archive` tars and `docker-archive` tars, without a daemon.

Everything is deterministic: JSON with sorted keys, fixed times, sorted tar members; the same
recipe gives the same manifest digest on every machine with the same busybox.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from detonate.factory.layers import (
    FIXED_CREATED,
    FIXED_EPOCH,
    BuiltLayer,
    build_layers,
    sha256_digest,
)
from detonate.factory.spec import ImageSpec

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class BuiltImage:
    spec: ImageSpec
    config: bytes
    manifest: bytes
    layers: tuple[BuiltLayer, ...]

    @property
    def config_digest(self) -> str:
        return sha256_digest(self.config)

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def platform(self) -> dict[str, str]:
        platform = {"architecture": self.spec.architecture, "os": self.spec.os}
        if self.spec.variant:
            platform["variant"] = self.spec.variant
        return platform


@dataclass(frozen=True)
class Layout:
    """An OCI layout held in memory: relative path → bytes, and the digest index.json names."""

    files: dict[str, bytes]
    digest: str  # the manifest (or image index) that index.json points to under the tag


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def build_image(spec: ImageSpec, layers: tuple[BuiltLayer, ...] | None = None) -> BuiltImage:
    """Build layers (or reuse `layers`, built from the same spec) plus config and manifest."""
    built = layers if layers is not None else build_layers(spec.layers)
    config = canonical_json(_config(spec, built))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": spec.config_media_type,
            "digest": sha256_digest(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": layer.media_type, "digest": layer.digest, "size": len(layer.blob)}
            for layer in built
        ],
    }
    return BuiltImage(spec, config, canonical_json(manifest), built)


def _config(spec: ImageSpec, layers: tuple[BuiltLayer, ...]) -> dict[str, object]:
    runtime: dict[str, object] = {"Env": list(spec.env)}
    if spec.entrypoint:
        runtime["Entrypoint"] = list(spec.entrypoint)
    if spec.cmd:
        runtime["Cmd"] = list(spec.cmd)
    if spec.user:
        runtime["User"] = spec.user
    if spec.working_dir:
        runtime["WorkingDir"] = spec.working_dir
    if spec.labels:
        runtime["Labels"] = dict(spec.labels)
    if spec.exposed_ports:
        runtime["ExposedPorts"] = {port: {} for port in spec.exposed_ports}
    if spec.stop_signal:
        runtime["StopSignal"] = spec.stop_signal
    if spec.healthcheck:
        check = spec.healthcheck
        runtime["Healthcheck"] = {
            "Test": list(check.test),
            "Interval": check.interval_seconds * 1_000_000_000,
            "Timeout": check.timeout_seconds * 1_000_000_000,
            "Retries": check.retries,
        }
    history: list[dict[str, object]] = [
        {"created": FIXED_CREATED, "created_by": layer.created_by} for layer in layers
    ]
    history += [
        {"created": FIXED_CREATED, "created_by": step, "empty_layer": True} for step in spec.history
    ]
    config: dict[str, object] = {
        "created": FIXED_CREATED,
        "architecture": spec.architecture,
        "os": spec.os,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": history,
    }
    if spec.variant:
        config["variant"] = spec.variant
    return config


def oci_layout(spec: ImageSpec, platforms: tuple[str, ...] = ()) -> Layout:
    """One image, or with `platforms` ("linux/amd64", "linux/arm64/v8") an image index whose
    manifests differ only in their config's platform and share the same layer blobs."""
    files: dict[str, bytes] = {"oci-layout": canonical_json({"imageLayoutVersion": "1.0.0"})}
    layers = build_layers(spec.layers)
    variants = [_with_platform(spec, text) for text in platforms] or [spec]
    images = [build_image(variant, layers) for variant in variants]
    for image in images:
        for blob in (image.config, image.manifest, *(layer.blob for layer in image.layers)):
            files[_blob_path(sha256_digest(blob))] = blob
    if platforms:
        index = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": image.digest,
                        "size": len(image.manifest),
                        "platform": image.platform,
                    }
                    for image in images
                ],
            }
        )
        files[_blob_path(sha256_digest(index))] = index
        top = {"mediaType": OCI_INDEX, "digest": sha256_digest(index), "size": len(index)}
    else:
        top = {
            "mediaType": OCI_MANIFEST,
            "digest": images[0].digest,
            "size": len(images[0].manifest),
        }
    top["annotations"] = {REF_NAME: spec.tag}
    files["index.json"] = canonical_json({"schemaVersion": 2, "manifests": [top]})
    return Layout(files, str(top["digest"]))


def _with_platform(spec: ImageSpec, text: str) -> ImageSpec:
    parts = text.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"platform must look like os/arch[/variant], got {text!r}")
    variant = parts[2] if len(parts) == 3 else ""
    return dataclasses.replace(spec, os=parts[0], architecture=parts[1], variant=variant)


def _blob_path(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def write_oci_layout(spec: ImageSpec, dest: Path, platforms: tuple[str, ...] = ()) -> str:
    """Write an OCI layout directory (replacing an earlier one); returns the tagged digest.

    skopeo reads it as `oci:DEST:TAG`."""
    layout = oci_layout(spec, platforms)
    _replace_dir(dest)
    for relative, data in layout.files.items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return layout.digest


def write_oci_archive(spec: ImageSpec, dest: Path, platforms: tuple[str, ...] = ()) -> str:
    """Write the layout as one tar (skopeo: `oci-archive:DEST:TAG`); returns the digest."""
    layout = oci_layout(spec, platforms)
    members = dict(layout.files)
    _write_tar(dest, members, dirs=("blobs", "blobs/sha256"))
    return layout.digest


def write_docker_archive(spec: ImageSpec, dest: Path) -> str:
    """Write `docker save` format (manifest.json, config, uncompressed layer.tar per layer);
    skopeo reads it as `docker-archive:DEST`. Returns the config digest (docker's image id)."""
    image = build_image(spec)
    config_name = image.config_digest.partition(":")[2] + ".json"
    members: dict[str, bytes] = {config_name: image.config}
    layer_names = []
    for layer in image.layers:
        name = layer.diff_id.partition(":")[2] + "/layer.tar"
        members[name] = layer.uncompressed
        layer_names.append(name)
    manifest = [
        {"Config": config_name, "RepoTags": [f"{spec.name}:{spec.tag}"], "Layers": layer_names}
    ]
    members["manifest.json"] = canonical_json(manifest)
    _write_tar(dest, members, dirs=tuple(sorted({n.split("/")[0] for n in layer_names})))
    return image.config_digest


def _write_tar(dest: Path, members: dict[str, bytes], dirs: tuple[str, ...]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    entries: list[tuple[str, bytes | None]] = [(d, None) for d in dirs]
    entries += list(members.items())
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(entries, key=lambda item: item[0]):
            info = tarfile.TarInfo(name)
            info.mtime = FIXED_EPOCH
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.mode, info.size = 0o644, len(data)
                tar.addfile(info, io.BytesIO(data))
    partial.replace(dest)


def _replace_dir(dest: Path) -> None:
    if dest.exists():
        if any(dest.iterdir()) and not (dest / "oci-layout").exists():
            raise FileExistsError(f"{dest} exists and is not an OCI layout; not replacing it")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
