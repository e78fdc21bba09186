"""Registry push notifications → the images they name. Pure: JSON in, `PushedImage`s out.

Four senders, four shapes (real examples under tests/service/payloads/):

    distribution  {"events": [{"action": "push", "target": {"mediaType": "…manifest…",
                    "digest": "sha256:…", "repository": "team/app", "tag": "1"},
                    "request": {"host": "registry.test:5000"}}]}
    harbor        {"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"digest": "sha256:…",
                    "tag": "1", "resource_url": "harbor.test/team/app:1"}],
                    "repository": {"repo_full_name": "team/app"}}}
    ghcr          {"action": "published", "package": {"package_type": "CONTAINER",
                    "package_version": {"container_metadata": {"tag": {"name": "1",
                    "digest": "sha256:…"}}, "package_url": "ghcr.io/org/app:1"}}}
    dockerhub     {"push_data": {"tag": "1"}, "repository": {"repo_name": "org/app"}}

Pulls, deletions, blob pushes and non-container packages are not pushes of an image: they are
returned as `Ignored` with the reason, so the sender gets a 2xx and an honest account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from detonate.acquire.manifest import INDEX_TYPES, MANIFEST_TYPES
from detonate.errors import BadPayload

DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REPOSITORY_PATTERN = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$")
DOCKER_HUB = "docker.io"
GHCR = "ghcr.io"


@dataclass(frozen=True)
class PushedImage:
    """One image a registry says was pushed. `digest` is empty when the sender does not say
    (Docker Hub) and must be resolved; `media_type` is empty when unknown."""

    registry: str  # "registry.test:5000"
    repository: str  # "team/app"
    tag: str = ""
    digest: str = ""
    media_type: str = ""

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What skopeo is asked for: by digest when known (a tag can move), else by tag."""
        if self.digest:
            return f"docker://{self.name}@{self.digest}"
        return f"docker://{self.name}:{self.tag or 'latest'}"

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class Ignored:
    what: str  # "pull of team/app", "blob push to team/app"
    reason: str


@dataclass(frozen=True)
class Notification:
    pushed: tuple[PushedImage, ...]
    ignored: tuple[Ignored, ...] = ()


def parse_distribution(document: object) -> Notification:
    """CNCF distribution's envelope (Content-Type application/vnd.docker.distribution.events.v1
    +json). A push by tag and its manifest are one event; the children of an index pushed by
    `--all` arrive as untagged manifest pushes and are left out: the index event that follows
    names them all, and is expanded to the configured platform."""
    envelope = _object(document, "the notification")
    events = envelope.get("events")
    if not isinstance(events, list):
        raise BadPayload("the notification has no `events` list", "send distribution's envelope")
    pushed: list[PushedImage] = []
    ignored: list[Ignored] = []
    for number, raw in enumerate(events):
        event = _object(raw, f"event {number}")
        target = _object(event.get("target", {}), f"event {number}'s target")
        repository = _text(target, "repository")
        action = _text(event, "action")
        media_type = _text(target, "mediaType")
        if action != "push":
            ignored.append(Ignored(f"{action or 'unknown action'} of {repository}", "not a push"))
            continue
        if media_type not in MANIFEST_TYPES + INDEX_TYPES:
            ignored.append(Ignored(f"push to {repository}", f"not a manifest ({media_type!r})"))
            continue
        tag = _text(target, "tag")
        if not tag:
            ignored.append(
                Ignored(f"push of {repository}@{_text(target, 'digest')}", "untagged manifest")
            )
            continue
        request = event.get("request") if isinstance(event.get("request"), Mapping) else {}
        assert isinstance(request, Mapping)
        host = _text(request, "host") or urlsplit(_text(target, "url")).netloc
        pushed.append(
            _checked(PushedImage(host, repository, tag, _text(target, "digest"), media_type))
        )
    return Notification(tuple(pushed), tuple(ignored))


def parse_harbor(document: object) -> Notification:
    """Harbor's default webhook format. An untagged artifact carries its digest as its tag."""
    payload = _object(document, "the webhook")
    kind = _text(payload, "type")
    data = _object(payload.get("event_data", {}), "event_data")
    repo = _object(data.get("repository", {}), "event_data.repository")
    full_name = _text(repo, "repo_full_name") or "/".join(
        part for part in (_text(repo, "namespace"), _text(repo, "name")) if part
    )
    if kind != "PUSH_ARTIFACT":
        return Notification(
            (), (Ignored(f"{kind or 'unknown event'} on {full_name}", "not a push"),)
        )
    resources = data.get("resources")
    if not isinstance(resources, list) or not resources:
        raise BadPayload("PUSH_ARTIFACT without resources", "send Harbor's default payload format")
    pushed = []
    for number, raw in enumerate(resources):
        resource = _object(raw, f"resource {number}")
        digest, tag = _text(resource, "digest"), _text(resource, "tag")
        if tag == digest:
            tag = ""
        # "harbor.test/team/app:1" or "harbor.test/team/app@sha256:…": the host is Harbor's.
        host = _text(resource, "resource_url").split("/", 1)[0]
        pushed.append(_checked(PushedImage(host, full_name, tag, digest)))
    return Notification(tuple(pushed))


def parse_ghcr(document: object) -> Notification:
    """GitHub's `package` (and older `registry_package`) event, action `published`. The digest
    is the manifest's, often an index's (`container_metadata.manifest.media_type` says so)."""
    payload = _object(document, "the webhook")
    package = _object(payload.get("package") or payload.get("registry_package") or {}, "package")
    name = _text(package, "name")
    action = _text(payload, "action")
    if action != "published":
        return Notification(
            (), (Ignored(f"{action or 'unknown action'} of {name}", "not a publish"),)
        )
    if _text(package, "package_type").lower() not in ("container", "docker"):
        return Notification((), (Ignored(f"package {name}", "not a container"),))
    version = _object(package.get("package_version") or {}, "package.package_version")
    metadata = _object(version.get("container_metadata") or {}, "container_metadata")
    tag_info = _object(metadata.get("tag") or {}, "container_metadata.tag")
    manifest = _object(metadata.get("manifest") or {}, "container_metadata.manifest")
    digest = _text(tag_info, "digest") or next(
        (
            value
            for value in (_text(version, "version"), _text(version, "name"))
            if DIGEST_PATTERN.match(value)
        ),
        "",
    )
    # "ghcr.io/org/app:1" → ghcr.io, org/app; else from the namespace (the owner).
    location = _text(version, "package_url").partition("@")[0]
    host, _, path = location.partition("/")
    if host and path:
        repository = path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path
    else:
        owner = _text(package, "namespace") or _text(
            _object(package.get("owner") or {}, "owner"), "login"
        )
        host, repository = GHCR, f"{owner}/{name}"
    image = PushedImage(
        host, repository.lower(), _text(tag_info, "name"), digest, _text(manifest, "media_type")
    )
    return Notification((_checked(image),))


def parse_dockerhub(document: object) -> Notification:
    """Docker Hub says which tag moved, never to which digest: that is resolved later."""
    payload = _object(document, "the webhook")
    push = _object(payload.get("push_data", {}), "push_data")
    repo = _object(payload.get("repository", {}), "repository")
    name = _text(repo, "repo_name")
    if not name:
        raise BadPayload("the webhook has no repository.repo_name", "send Docker Hub's payload")
    if "/" not in name:  # official images: "nginx" is library/nginx
        name = f"library/{name}"
    return Notification((_checked(PushedImage(DOCKER_HUB, name, _text(push, "tag") or "latest")),))


PARSERS = {
    "distribution": parse_distribution,
    "harbor": parse_harbor,
    "ghcr": parse_ghcr,
    "dockerhub": parse_dockerhub,
}


def _checked(image: PushedImage) -> PushedImage:
    """Names end up in skopeo's argv and in the store: refuse anything that is not one."""
    if not _HOST.match(image.registry):
        raise BadPayload(f"bad registry host {image.registry!r}", "the payload names no registry")
    if not REPOSITORY_PATTERN.match(image.repository):
        raise BadPayload(f"bad repository name {image.repository!r}", "lowercase path expected")
    if image.tag and not _TAG.match(image.tag):
        raise BadPayload(f"bad tag {image.tag!r}", "a tag is letters, digits, _ . -")
    if image.digest and not DIGEST_PATTERN.match(image.digest):
        raise BadPayload(f"bad digest {image.digest!r}", "sha256: and 64 hex digits")
    if not image.tag and not image.digest:
        raise BadPayload(f"{image.name}: neither tag nor digest", "the payload names no image")
    return image


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadPayload(f"{what} is not a JSON object", "check the sender's payload format")
    return value


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""
