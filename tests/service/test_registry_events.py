"""The four senders' real payloads → the images they pushed; everything else ignored, bad
bodies refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detonate.acquire.manifest import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST
from detonate.errors import BadPayload
from detonate.service.registry_events import (
    PushedImage,
    parse_distribution,
    parse_dockerhub,
    parse_ghcr,
    parse_harbor,
)

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def test_distribution_manifest_push_by_tag() -> None:
    note = parse_distribution(payload("distribution-manifest-push.json"))
    assert note.pushed == (
        PushedImage(
            "127.0.0.1:5902",
            "team/web",
            "1.0",
            "sha256:74b01e6a397d9824ff8615d21872ef855c33bbc8373fc684b5575b5d6b6aae39",
            OCI_MANIFEST,
        ),
    )
    image = note.pushed[0]
    assert image.reference == f"docker://127.0.0.1:5902/team/web@{image.digest}"
    assert not image.is_index


def test_distribution_index_push_is_kept_as_an_index_to_expand() -> None:
    (image,) = parse_distribution(payload("distribution-index-push.json")).pushed
    assert (image.repository, image.tag, image.media_type) == ("team/multi", "2", OCI_INDEX)
    assert image.is_index


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("distribution-blob-push.json", "not a manifest ('application/octet-stream')"),
        ("distribution-pull.json", "not a push"),
        ("distribution-untagged-child-push.json", "untagged manifest"),
    ],
)
def test_distribution_ignores_what_is_not_a_tagged_manifest_push(name: str, reason: str) -> None:
    note = parse_distribution(payload(name))
    assert note.pushed == ()
    assert [ignored.reason for ignored in note.ignored] == [reason]


def test_distribution_envelope_with_many_events_keeps_only_pushes() -> None:
    events = [
        payload(name)["events"][0]
        for name in (
            "distribution-blob-push.json",
            "distribution-manifest-push.json",
            "distribution-pull.json",
            "distribution-index-push.json",
        )
    ]
    note = parse_distribution({"events": events})
    assert [image.tag for image in note.pushed] == ["1.0", "2"]
    assert len(note.ignored) == 2


def test_harbor_untagged_artifact_has_its_digest_and_no_tag() -> None:
    (image,) = parse_harbor(payload("harbor-push-artifact.json")).pushed
    assert image == PushedImage(
        "localhost",
        "harbor/alpine",
        "",
        "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
    )
    assert image.media_type == ""  # Harbor does not say: it may be an index, so it resolves


def test_harbor_tagged_artifact() -> None:
    (image,) = parse_harbor(payload("harbor-push-artifact-tagged.json")).pushed
    assert (image.registry, image.repository, image.tag) == (
        "harbor.example.test",
        "library/nginx",
        "v1.0.0",
    )


def test_harbor_pull_is_ignored() -> None:
    note = parse_harbor(payload("harbor-pull-artifact.json"))
    assert note.pushed == () and note.ignored[0].reason == "not a push"


def test_ghcr_published_container_with_its_index_digest() -> None:
    (image,) = parse_ghcr(payload("ghcr-package-published.json")).pushed
    assert image == PushedImage(
        "ghcr.io",
        "octo-org/www",
        "0e2a89b",
        "sha256:89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8",
        DOCKER_LIST,
    )
    assert image.is_index


def test_ghcr_digest_from_the_version_name_when_metadata_is_missing() -> None:
    document = payload("ghcr-package-published.json")
    version = document["package"]["package_version"]
    del version["container_metadata"]
    del version["package_url"]
    (image,) = parse_ghcr(document).pushed
    assert (image.registry, image.repository, image.tag) == ("ghcr.io", "octo-org/www", "")
    assert image.digest == version["version"]


def test_ghcr_ignores_other_packages_and_actions() -> None:
    document = payload("ghcr-package-published.json")
    document["package"]["package_type"] = "npm"
    assert parse_ghcr(document).ignored[0].reason == "not a container"
    document["action"] = "updated"
    assert parse_ghcr(document).ignored[0].reason == "not a publish"


def test_dockerhub_names_a_tag_and_no_digest() -> None:
    (image,) = parse_dockerhub(payload("dockerhub-push.json")).pushed
    assert image == PushedImage("docker.io", "svendowideit/testhook", "latest")
    assert image.reference == "docker://docker.io/svendowideit/testhook:latest"


def test_dockerhub_official_image_is_under_library() -> None:
    (image,) = parse_dockerhub(
        {"push_data": {"tag": "1"}, "repository": {"repo_name": "nginx"}}
    ).pushed
    assert image.name == "docker.io/library/nginx"


@pytest.mark.parametrize(
    ("parser", "document", "says"),
    [
        (parse_distribution, [], "not a JSON object"),
        (parse_distribution, {"events": "x"}, "no `events` list"),
        (parse_distribution, {"events": [1]}, "event 0 is not a JSON object"),
        (parse_harbor, {"type": "PUSH_ARTIFACT", "event_data": {}}, "without resources"),
        (parse_dockerhub, {"push_data": {"tag": "1"}}, "no repository.repo_name"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(
    parser: Any, document: Any, says: str
) -> None:
    with pytest.raises(BadPayload, match=says):
        parser(document)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("repository", "Team/Web;rm -rf /", "bad repository name"),
        ("tag", "--src-creds=x", "bad tag"),
        ("digest", "sha256:zz", "bad digest"),
    ],
)
def test_hostile_names_never_reach_skopeo(field: str, value: str, says: str) -> None:
    document = payload("distribution-manifest-push.json")
    document["events"][0]["target"][field] = value
    with pytest.raises(BadPayload, match=says):
        parse_distribution(document)
