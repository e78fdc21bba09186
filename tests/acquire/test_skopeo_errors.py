"""skopeo's stderr → the error tree. The lines are as skopeo 1.9 prints them; the ones for DNS
and TLS failures cannot be produced here without leaving 127.0.0.1, so they are replayed."""

from __future__ import annotations

import pytest

from detonate.acquire.skopeo_errors import map_skopeo_error, skopeo_message
from detonate.errors import (
    AcquireError,
    AuthRefused,
    DigestMismatch,
    ImageNotFound,
    RegistryUnreachable,
    UnsupportedPlatform,
)


def _fatal(message: str) -> str:
    escaped = message.replace('"', '\\"')
    return f'time="2024-01-01T00:00:00Z" level=fatal msg="{escaped}"\n'


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'Error parsing image name "docker://r.test/a:1": pinging container registry r.test: '
            'Get "https://r.test/v2/": dial tcp: lookup r.test: no such host',
            RegistryUnreachable,
        ),
        (
            'pinging container registry r.test: Get "https://r.test/v2/": x509: certificate '
            "signed by unknown authority",
            RegistryUnreachable,
        ),
        (
            "reading manifest 1 in r.test/a: denied: requested access to the resource is denied",
            AuthRefused,
        ),
        (
            "reading blob sha256:aa: Digest did not match, expected sha256:aa, got sha256:bb",
            DigestMismatch,
        ),
        (
            "choosing image instance: no image found in image index for architecture s390x, "
            'variant "", OS linux',
            UnsupportedPlatform,
        ),
        ("reading manifest 1 in r.test/a: name unknown: repository name not known", ImageNotFound),
        ("something nobody expected", AcquireError),
    ],
)
def test_messages_map_to_errors(message: str, expected: type[AcquireError]) -> None:
    error = map_skopeo_error(_fatal(message), "pulling docker://r.test/a:1")
    assert type(error) is expected
    assert error.message.startswith("pulling docker://r.test/a:1: ")
    assert error.hint


def test_the_message_drops_skopeo_log_noise() -> None:
    stderr = _fatal('Error parsing image name "docker://r.test/a:1": manifest unknown')
    assert skopeo_message(stderr) == "manifest unknown"
    assert skopeo_message("") == "skopeo failed without a message"
