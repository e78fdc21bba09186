"""Each sender's way of carrying the shared secret, and that a missing secret opens nothing."""

from __future__ import annotations

import pytest

from detonate.service.hook_auth import authorized, github_signature

BODY = b'{"action": "published"}'


@pytest.mark.parametrize(
    ("sender", "headers", "query", "ok"),
    [
        ("distribution", {"authorization": "Bearer s3cret"}, {}, True),
        ("distribution", {"authorization": "bearer s3cret"}, {}, True),
        ("distribution", {"authorization": "Bearer wrong"}, {}, False),
        ("distribution", {"authorization": "s3cret"}, {}, False),
        ("distribution", {}, {"secret": "s3cret"}, False),
        ("harbor", {"authorization": "s3cret"}, {}, True),
        ("harbor", {"authorization": "Bearer s3cret"}, {}, True),
        ("harbor", {"authorization": "Basic s3cret"}, {}, False),
        ("dockerhub", {}, {"secret": "s3cret"}, True),
        ("dockerhub", {}, {"secret": "s3cre"}, False),
        ("dockerhub", {"authorization": "Bearer s3cret"}, {}, False),
        ("ghcr", {"x-hub-signature-256": github_signature(BODY, "s3cret")}, {}, True),
        ("ghcr", {"x-hub-signature-256": github_signature(BODY, "other")}, {}, False),
        ("ghcr", {"authorization": "Bearer s3cret"}, {}, False),
        ("unknown", {"authorization": "Bearer s3cret"}, {}, False),
    ],
)
def test_secret_as_each_sender_sends_it(
    sender: str, headers: dict[str, str], query: dict[str, str], ok: bool
) -> None:
    assert authorized(sender, "s3cret", headers, query, BODY) is ok


def test_github_signature_covers_the_body() -> None:
    signature = github_signature(BODY, "s3cret")
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert not authorized("ghcr", "s3cret", {"x-hub-signature-256": signature}, {}, BODY + b" ")


@pytest.mark.parametrize("sender", ["distribution", "harbor", "dockerhub", "ghcr"])
def test_an_unconfigured_secret_matches_nothing(sender: str) -> None:
    empty = {"authorization": "Bearer ", "x-hub-signature-256": github_signature(BODY, "")}
    assert not authorized(sender, "", empty, {"secret": ""}, BODY)
