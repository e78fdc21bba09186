"""acquire() over docker:// from a real docker-registry on 127.0.0.1, with the real skopeo."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from detonate.acquire import SkopeoSource, acquire
from detonate.errors import (
    AuthRefused,
    DigestMismatch,
    ImageNotFound,
    RegistryUnreachable,
    UnsupportedPlatform,
)
from detonate.factory import BuiltSample, load_recipe, write_oci_layout
from detonate.model.image import AcquiredImage, Platform
from detonate.model.options import AcquireOptions
from detonate.progress import NullProgress

pytestmark = pytest.mark.registry

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PLAIN_HTTP = AcquireOptions(tls_verify=False)


def _acquire(
    ref: str, cache: Path, options: AcquireOptions = PLAIN_HTTP
) -> tuple[AcquiredImage, int]:
    source = SkopeoSource(options)
    image = acquire(ref, cache, options, NullProgress(), source=source)
    return image, source.copies


@pytest.fixture(scope="module")
def pushed(registry: Any, built_samples: dict[str, BuiltSample]) -> dict[str, str]:
    """Every sample in the shared registry as samples/<name>:v1."""
    return {
        name: registry.push(sample.oci_reference, f"samples/{name}:v1")
        for name, sample in built_samples.items()
    }


def test_pull_by_tag(pushed: dict[str, str], built_samples: dict[str, BuiltSample], tmp_path: Path):
    image, copies = _acquire(pushed["planted-static"], tmp_path)
    assert copies == 1
    assert image.digest == built_samples["planted-static"].digest
    assert image.reference == pushed["planted-static"]
    assert len(image.layers) == 2
    for layer in image.layers:
        assert image.blob_path(layer.digest).stat().st_size == layer.size
    assert "RUN echo ZWNobyBoaQ== | base64 -d | sh" in [h.created_by for h in image.config.history]


def test_pull_by_digest(
    pushed: dict[str, str], built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    digest = built_samples["benign-web"].digest
    ref = pushed["benign-web"].rsplit(":", 1)[0] + f"@{digest}"
    image, _ = _acquire(ref, tmp_path)
    assert image.digest == digest
    assert image.config.user == "33:33"


def test_second_pull_by_tag_copies_nothing(pushed: dict[str, str], tmp_path: Path) -> None:
    first, copies = _acquire(pushed["benign-web"], tmp_path)
    assert copies == 1
    second, copies = _acquire(pushed["benign-web"], tmp_path)
    assert copies == 0
    assert second == first


def test_cached_digest_needs_no_registry(
    pushed: dict[str, str], built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    _acquire(pushed["benign-web"], tmp_path)
    digest = built_samples["benign-web"].digest
    # Same content by digest, named on a port where nothing listens: served from the cache.
    image, copies = _acquire(f"docker://127.0.0.1:{_closed_port()}/gone@{digest}", tmp_path)
    assert copies == 0
    assert image.digest == digest


def test_platform_from_a_pushed_index(registry: Any, tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    index_digest = write_oci_layout(spec, tmp_path / "multi.oci", ("linux/amd64", "linux/arm64"))
    ref = registry.push(f"oci:{tmp_path / 'multi.oci'}:latest", "multi:1", all_platforms=True)
    arm64 = AcquireOptions(tls_verify=False, platform=Platform("linux", "arm64"))
    arm, _ = _acquire(ref, tmp_path / "cache", arm64)
    amd, _ = _acquire(ref, tmp_path / "cache")
    assert (arm.platform.architecture, amd.platform.architecture) == ("arm64", "amd64")
    assert arm.layers == amd.layers
    # The index digest resolves to the chosen platform from the cache, without a copy.
    again, copies = _acquire(ref.rsplit(":", 1)[0] + f"@{index_digest}", tmp_path / "cache", arm64)
    assert copies == 0 and again.digest == arm.digest
    s390x = AcquireOptions(tls_verify=False, platform=Platform("linux", "s390x"))
    with pytest.raises(UnsupportedPlatform) as error:
        _acquire(ref, tmp_path / "cache", s390x)
    assert "linux/amd64" in error.value.message and "linux/arm64" in error.value.message


def test_unknown_tag_is_not_found(pushed: dict[str, str], tmp_path: Path) -> None:
    ref = pushed["benign-web"].rsplit(":", 1)[0] + ":no-such-tag"
    with pytest.raises(ImageNotFound, match="no-such-tag"):
        _acquire(ref, tmp_path)


def test_unknown_repository_is_not_found(registry: Any, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound) as error:
        _acquire(registry.reference("no/such-repo:v1"), tmp_path)
    assert error.value.hint


def test_unknown_digest_is_not_found(registry: Any, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound):
        _acquire(registry.reference("samples/benign-web@sha256:" + "0" * 64), tmp_path)


def test_auth_refused_without_or_with_wrong_credentials(
    auth_registry: Any, built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    ref = auth_registry.push(built_samples["benign-web"].oci_reference, "private/app:1")
    with pytest.raises(AuthRefused) as error:
        _acquire(ref, tmp_path)
    assert "--creds" in error.value.hint
    wrong = AcquireOptions(tls_verify=False, creds=f"{auth_registry.username}:wrong")
    with pytest.raises(AuthRefused):
        _acquire(ref, tmp_path, wrong)
    right = AcquireOptions(
        tls_verify=False, creds=f"{auth_registry.username}:{auth_registry.password}"
    )
    image, _ = _acquire(ref, tmp_path, right)
    assert image.digest == built_samples["benign-web"].digest


def test_credentials_from_an_auth_file(
    auth_registry: Any, built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    ref = auth_registry.push(built_samples["benign-web"].oci_reference, "private/app:2")
    token = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode())
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": {auth_registry.host: {"auth": token.decode()}}}))
    options = AcquireOptions(tls_verify=False, auth_file=auth_file)
    image, _ = _acquire(ref, tmp_path / "cache", options)
    assert image.digest == built_samples["benign-web"].digest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when we return: nothing listens


def test_closed_port_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(RegistryUnreachable) as error:
        _acquire(f"docker://127.0.0.1:{_closed_port()}/app:1", tmp_path)
    assert "connection refused" in error.value.message
    assert "reachable" in error.value.hint


def test_a_registry_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        options = AcquireOptions(tls_verify=False, timeout_seconds=1)
        with pytest.raises(RegistryUnreachable, match="no answer within 1 s"):
            _acquire(f"docker://127.0.0.1:{port}/app:1", tmp_path, options)


def test_plain_http_registry_with_tls_verify_says_insecure(
    pushed: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(RegistryUnreachable) as error:
        _acquire(pushed["benign-web"], tmp_path, AcquireOptions(tls_verify=True))
    assert "--insecure" in error.value.hint


def test_tampered_registry_blob_is_a_digest_mismatch(
    make_registry: Any, built_samples: dict[str, BuiltSample], tmp_path: Path
) -> None:
    registry = make_registry()
    sample = built_samples["benign-web"]
    ref = registry.push(sample.oci_reference, "tampered:1")
    manifest = json.loads((sample.layout / "blobs/sha256" / sample.digest[7:]).read_bytes())
    data_path = registry.blob_data_path(manifest["layers"][1]["digest"])
    data = bytearray(data_path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: the registry serves it, with the wrong bytes
    data_path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch) as error:
        _acquire(ref, tmp_path)
    assert "tampered" in error.value.hint
