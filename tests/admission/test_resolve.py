"""Tag → digest with the real skopeo against the real docker-registry: bounded, cached for its
TTL, an index expanded to the configured platform, a failure is "unknown" and not an error."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from detonate.acquire.reference import parse_reference
from detonate.admission.resolve import CachedResolver, ResolverSettings
from detonate.factory import build_sample, load_recipe, write_oci_layout
from detonate.model.image import Platform

pytestmark = pytest.mark.registry

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def resolver(clock: Clock | None = None, **settings: Any) -> CachedResolver:
    return CachedResolver(ResolverSettings(tls_verify=False, **settings), clock=clock or Clock())


def test_tag_resolves_to_the_pushed_digest_and_is_cached(registry: Any, tmp_path: Path) -> None:
    sample = build_sample(SAMPLES / "benign-web", tmp_path)
    registry.push(f"oci:{sample.layout}:{sample.tag}", "resolve/web:1")
    clock = Clock()
    names = resolver(clock)
    image = f"{registry.host}/resolve/web:1"
    assert names.digest_for(image) == sample.digest
    assert names.digest_for(image) == sample.digest
    assert names.lookups == 1
    clock.now += 61  # past the TTL: asked again
    assert names.digest_for(image) == sample.digest
    assert names.lookups == 2


def test_a_moved_tag_is_seen_after_the_ttl(registry: Any, tmp_path: Path) -> None:
    first = build_sample(SAMPLES / "benign-web", tmp_path / "a")
    second = build_sample(SAMPLES / "planted-static", tmp_path / "b")
    registry.push(f"oci:{first.layout}:{first.tag}", "resolve/moving:1")
    clock = Clock()
    names = resolver(clock, ttl_seconds=5)
    image = f"{registry.host}/resolve/moving:1"
    assert names.digest_for(image) == first.digest
    registry.push(f"oci:{second.layout}:{second.tag}", "resolve/moving:1")
    assert names.digest_for(image) == first.digest  # within the TTL: remembered
    clock.now += 6
    assert names.digest_for(image) == second.digest


def test_a_pinned_digest_needs_no_lookup() -> None:
    names = resolver()
    digest = "sha256:" + "c" * 64
    assert names.digest_for(f"unreachable.invalid/app@{digest}") == digest
    assert names.lookups == 0


def test_an_index_resolves_to_the_configured_platform(registry: Any, tmp_path: Path) -> None:
    spec = load_recipe(SAMPLES / "benign-web")
    index_digest = write_oci_layout(spec, tmp_path / "multi.oci", ("linux/amd64", "linux/arm64"))
    registry.push(f"oci:{tmp_path / 'multi.oci'}:latest", "resolve/multi:1", all_platforms=True)
    reference = parse_reference(f"docker://{registry.host}/resolve/multi:1")
    amd = resolver().lookup(reference)
    arm = resolver(platform=Platform("linux", "arm64")).lookup(reference)
    assert amd is not None and arm is not None
    assert amd.index_digest == arm.index_digest == index_digest
    assert len({amd.digest, arm.digest, index_digest}) == 3


def test_unknown_tag_is_unknown_and_remembered_briefly(registry: Any) -> None:
    clock = Clock()
    names = resolver(clock)
    image = f"{registry.host}/resolve/never-pushed:1"
    assert names.digest_for(image) is None
    assert names.digest_for(image) is None
    assert names.lookups == 1
    clock.now += 11
    assert names.digest_for(image) is None
    assert names.lookups == 2


def test_a_registry_that_never_answers_costs_at_most_the_timeout() -> None:
    # A listener that accepts and never speaks: skopeo waits until it is killed.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        names = resolver(timeout_seconds=1)
        started = time.monotonic()
        assert names.digest_for(f"127.0.0.1:{port}/app:1") is None
        # The 1 s timeout plus killing skopeo, with room for a busy machine's process start:
        # skopeo left alone gives up only after its own 10 s TLS handshake timeout.
        assert time.monotonic() - started < 8


def test_names_that_are_not_references_are_unknown() -> None:
    assert resolver().digest_for("UPPER/Case:1") is None
