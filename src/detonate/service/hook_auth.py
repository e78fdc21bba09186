"""Shared-secret checks for the registry webhooks, each in the form its sender can send.

    distribution  Authorization: Bearer s3cret     (notifications.endpoints[].headers)
    harbor        Authorization: s3cret            (the webhook's "Auth Header", sent verbatim;
                                                    "Bearer s3cret" is accepted too)
    ghcr          X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body under the secret>
    dockerhub     ?secret=s3cret                   (Docker Hub can send no header at all)

Every comparison is constant-time. An empty configured secret never matches: a hook without a
secret is switched off, not open.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "x-hub-signature-256"


def secret_matches(given: str, secret: str) -> bool:
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def bearer_matches(authorization: str, secret: str) -> bool:
    scheme, _, token = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and secret_matches(token.strip(), secret)


def harbor_matches(authorization: str, secret: str) -> bool:
    return secret_matches(authorization.strip(), secret) or bearer_matches(authorization, secret)


def github_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_matches(signature: str, body: bytes, secret: str) -> bool:
    return bool(secret) and hmac.compare_digest(
        signature.strip().encode(), github_signature(body, secret).encode()
    )


def authorized(
    sender: str, secret: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> bool:
    """Whether a request to /hooks/<sender> carries the secret the way that sender sends it.
    `headers` is case-insensitive as Starlette's is (lowercase keys work for a plain dict)."""
    if sender == "distribution":
        return bearer_matches(headers.get("authorization", ""), secret)
    if sender == "harbor":
        return harbor_matches(headers.get("authorization", ""), secret)
    if sender == "ghcr":
        return github_matches(headers.get(SIGNATURE_HEADER, ""), body, secret)
    if sender == "dockerhub":
        return secret_matches(query.get("secret", ""), secret)
    return False
