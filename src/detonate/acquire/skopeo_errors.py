"""skopeo's failure messages → the error tree, each with a hint. Examples of what it prints:

reading manifest nope in 127.0.0.1:5000/app: manifest unknown: manifest unknown
reading manifest 1 in 127.0.0.1:5000/app: unauthorized: authentication required
pinging container registry 127.0.0.1:1: Get "http://127.0.0.1:1/v2/": dial tcp …: connection refused
Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client
open /images/app/index.json: no such file or directory
no descriptor found for reference "nope"
Digest did not match, expected sha256:…, got sha256:…
no image found in image index for architecture arm64, variant "v8", OS linux
loading image from docker engine: Cannot connect to the Docker daemon at unix:///var/run/docker.sock
"""

from __future__ import annotations

import re

from detonate.errors import (
    AcquireError,
    AuthRefused,
    DigestMismatch,
    ImageNotFound,
    RegistryUnreachable,
    UnsupportedMediaType,
    UnsupportedPlatform,
)

# skopeo's own log prefix: time="…" level=fatal msg="…"
_FATAL = re.compile(r'level=fatal msg="(?P<msg>(?:[^"\\]|\\.)*)"')
# Context skopeo repeats before the cause; we name the reference ourselves.
_NOISE = re.compile(r'^(?:Error parsing image name "[^"]*"|initializing source \S+): ')

_RULES: tuple[tuple[type[AcquireError], tuple[str, ...], str], ...] = (
    (
        RegistryUnreachable,
        ("cannot connect to the docker daemon",),
        "no Docker daemon here: `docker save IMAGE -o image.tar` on a machine that has one, "
        "then scan docker-archive:image.tar",
    ),
    (
        RegistryUnreachable,
        ("server gave http response to https client",),
        "the registry speaks plain HTTP: allow it with --insecure (tls_verify off)",
    ),
    (
        RegistryUnreachable,
        ("x509:", "certificate", "tls: "),
        "the registry's TLS certificate was not accepted: fix its CA, or use --insecure for a "
        "local test registry",
    ),
    (
        DigestMismatch,
        ("digest did not match", "does not match digest", "digest mismatch"),
        "the bytes served differ from their digest: the registry or the file is corrupt or "
        "tampered with; do not trust this image",
    ),
    (
        UnsupportedPlatform,
        ("no image found in image index", "no image found in manifest list"),
        "choose one of the platforms the image provides with --platform",
    ),
    (
        AuthRefused,
        ("unauthorized", "authentication required", "denied", "forbidden"),
        "log in (`skopeo login REGISTRY` writes the standard auth file), or pass --creds "
        "USER:PASSWORD or --authfile FILE; the image may also not exist",
    ),
    (
        ImageNotFound,
        (
            "manifest unknown",
            "name unknown",
            "no descriptor found",
            "no such file or directory",
            "not found",
            "does not exist",
        ),
        "check the name, tag or digest (and the path, for archives and layouts)",
    ),
    (
        RegistryUnreachable,
        (
            "connection refused",
            "no such host",
            "i/o timeout",
            "timeout",
            "network is unreachable",
            "connection reset",
            "no route to host",
            ": eof",
            "pinging container registry",
        ),
        "check the registry address and that it is running and reachable from here",
    ),
    (
        UnsupportedMediaType,
        ("unsupported", "unknown media type", "mime type", "media type"),
        "this is not a container image detonate can read (OCI or Docker v2 image)",
    ),
)


def skopeo_message(stderr: str) -> str:
    """The useful line of skopeo's stderr: the fatal message, unescaped."""
    match = _FATAL.search(stderr)
    if match:
        message = match.group("msg").replace('\\"', '"').replace("\\\\", "\\")
        return _NOISE.sub("", message)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "skopeo failed without a message"


def map_skopeo_error(stderr: str, what: str) -> AcquireError:
    """`what` says what we tried ("pulling docker://…"); the message keeps skopeo's words."""
    message = skopeo_message(stderr)
    lowered = message.lower()
    for error_type, needles, hint in _RULES:
        if any(needle in lowered for needle in needles):
            return error_type(f"{what}: {message}", hint)
    return AcquireError(f"{what}: {message}", "run the same skopeo command by hand to see more")
