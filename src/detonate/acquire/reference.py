"""Image references as users write them → (transport, location), as skopeo understands them.

docker://registry.test:5000/team/app:1.2    docker, with a tag
team/app@sha256:0123…                       bare → docker://team/app@sha256:0123…
oci:./layout:latest   oci-archive:app.tar   docker-archive:app.tar   docker-daemon:app:1
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from detonate.errors import UsageError

TRANSPORTS = ("docker", "docker-archive", "oci", "oci-archive", "docker-daemon")
# skopeo knows these too, but they are not ways users hand us images.
_OTHER_SKOPEO_TRANSPORTS = ("dir", "containers-storage", "ostree", "sif", "tarball", "atomic")
LOCAL_TRANSPORTS = ("docker-archive", "oci", "oci-archive")

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Docker's reference grammar, loosely: [host[:port]/]path[:tag][@digest], path in lowercase.
_DOCKER_NAME = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Reference:
    transport: str  # one of TRANSPORTS
    location: str  # everything after "transport:" ("//" stripped for docker)
    repository: str = ""  # docker only: "registry.test:5000/team/app"
    tag: str = ""  # docker only
    digest: str = ""  # docker only: "sha256:…" when pinned

    def __str__(self) -> str:
        if self.transport == "docker":
            return f"docker://{self.location}"
        return f"{self.transport}:{self.location}"

    @property
    def path(self) -> str:
        """Local transports: the file or directory ("oci:DIR:tag" → "DIR")."""
        return self.location.split(":", 1)[0]

    def pinned(self, digest: str) -> Reference:
        """The same docker repository, addressed by digest."""
        location = f"{self.repository}@{digest}"
        return Reference("docker", location, self.repository, "", digest)


def parse_reference(text: str) -> Reference:
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    if colon and scheme in TRANSPORTS:
        if scheme == "docker":
            if not rest.startswith("//"):
                raise UsageError(
                    f"bad reference {text!r}", "write docker://NAME[:TAG] or just NAME[:TAG]"
                )
            return _docker(rest[2:], text)
        if not rest or rest.startswith(":"):
            raise UsageError(f"bad reference {text!r}: no path", f"write {scheme}:PATH")
        return Reference(scheme, rest)
    if colon and scheme in _OTHER_SKOPEO_TRANSPORTS:
        raise UsageError(
            f"transport {scheme!r} is not supported",
            "use docker://, docker-archive:, oci:, oci-archive: or docker-daemon:",
        )
    if "://" in text:
        raise UsageError(
            f"bad reference {text!r}: unknown scheme",
            "use docker://NAME[:TAG], docker-archive:, oci:, oci-archive: or docker-daemon:",
        )
    return _docker(text, text)


def _docker(location: str, original: str) -> Reference:
    name, at, digest = location.partition("@")
    if at and not _DIGEST.match(digest):
        raise UsageError(
            f"bad digest in {original!r}", "a digest looks like sha256: and 64 hex digits"
        )
    repository, tag = name, ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise UsageError(f"bad tag in {original!r}", "a tag is letters, digits, _ . -")
    if not _DOCKER_NAME.match(repository):
        raise UsageError(
            f"bad image name in {original!r}",
            "an image name looks like [registry[:port]/]path[:tag][@sha256:…], path in lowercase",
        )
    if digest:
        location = f"{repository}@{digest}"  # skopeo refuses a tag and a digest together
    elif not tag:
        tag = "latest"
        location = f"{repository}:latest"
    return Reference("docker", location, repository, tag, digest)
