"""Reference parsing: skopeo's transports, bare docker names, and what we refuse."""

from __future__ import annotations

import pytest

from detonate.acquire import parse_reference
from detonate.errors import UsageError

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", "docker://alpine:latest"),
        ("alpine:3.19", "docker://alpine:3.19"),
        ("127.0.0.1:5000/team/app", "docker://127.0.0.1:5000/team/app:latest"),
        ("docker://127.0.0.1:5000/app:1", "docker://127.0.0.1:5000/app:1"),
        (f"app@{DIGEST}", f"docker://app@{DIGEST}"),
        (f"app:1@{DIGEST}", f"docker://app@{DIGEST}"),
        ("oci:/images/app.oci:v1", "oci:/images/app.oci:v1"),
        ("oci-archive:app.tar", "oci-archive:app.tar"),
        ("docker-archive:app.tar", "docker-archive:app.tar"),
        ("docker-daemon:app:1", "docker-daemon:app:1"),
    ],
)
def test_references_normalise_to_a_transport(text: str, expected: str) -> None:
    assert str(parse_reference(text)) == expected


def test_docker_parts_are_split() -> None:
    ref = parse_reference(f"docker://127.0.0.1:5000/team/app@{DIGEST}")
    assert (ref.repository, ref.tag, ref.digest) == ("127.0.0.1:5000/team/app", "", DIGEST)
    assert (
        str(ref.pinned("sha256:" + "cd" * 32)) == f"docker://{ref.repository}@sha256:" + "cd" * 32
    )
    assert parse_reference("oci:/images/app.oci:v1").path == "/images/app.oci"


@pytest.mark.parametrize(
    "text",
    [
        "dir:/tmp/image",
        "containers-storage:app",
        "https://registry.test/app",
        "docker:app",
        "Upper/Case",
        "app@sha256:short",
        "oci:",
    ],
)
def test_other_references_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_reference(text)
    assert error.value.hint
