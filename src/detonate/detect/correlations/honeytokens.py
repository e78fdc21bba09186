"""Planted credentials: reads of the sandbox's bait files, and their markers leaving the
container (in an HTTP URL, header or body, a DNS name, raw bytes, IRC, a Docker API body).

Markers are searched as sent and inside base64 runs of the traffic (a JWT bearer token, an
encoded upload), so encoding the stolen file does not hide it.

A read is matched to its bait by the path the sample named or the one the kernel opened
(`/var/run/secrets/…` is `/run/secrets/…` where /var/run is a link). A service-account token
the image ships itself (no bait planted over it) is a token read all the same.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.events import FileOpenedForRead
from detonate.model.findings import Evidence, Finding
from detonate.model.netevents import (
    BytesSunk,
    DatagramSunk,
    DnsQueried,
    DockerApiCalled,
    HttpRequested,
    IrcMessaged,
    NetEvent,
    TlsHello,
)
from detonate.model.runtime import Honeytoken
from detonate.model.watched_reads import KUBE_TOKEN, read_kind

NAME = "honeytokens"
TOKEN_KINDS_T1528 = frozenset({"kube-token"})
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
CONTEXT = 60  # characters shown either side of a marker


class Honeytokens:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        tokens = {t.path: t for t in run.honeytokens if t.marker}
        found: list[Finding] = []
        reads: dict[str, list[Evidence]] = {}
        for event in run.events:
            if not isinstance(event, FileOpenedForRead):
                continue
            token = tokens.get(event.path) or tokens.get(event.requested_path)
            if token is None and event.honeytoken:
                token = next((t for t in tokens.values() if t.kind == event.honeytoken), None)
            if token is not None:
                kind, what = token.kind, f"the planted {token.kind}"
            elif read_kind(event.path) == KUBE_TOKEN:
                kind, what = KUBE_TOKEN, "the image's own service-account token"
            else:
                continue
            rule = "service-account-token-read" if kind in TOKEN_KINDS_T1528 else "honeytoken-read"
            reads.setdefault(rule, []).append(
                Evidence(
                    description=f"read {what}"
                    + ("" if event.succeeded else f" (failed: {event.error})"),
                    path=event.path,
                    event_ids=(event.seq,),
                    process=index.chain(event.pid, event.seq),
                )
            )
        for rule, evidence in sorted(reads.items()):
            found.append(finding(rule, NAME, evidence))
        sightings = list(_sightings(index, tuple(tokens.values())))
        if sightings:
            found.append(finding("honeytoken-exfiltration", NAME, sightings))
        return tuple(found)


def _sightings(index: RunIndex, tokens: tuple[Honeytoken, ...]) -> Iterator[Evidence]:
    if not tokens:
        return
    for event in index.net_events:
        for where, text in _texts(event):
            for token in tokens:
                excerpt = _find(token.marker, text)
                if excerpt is None:
                    continue
                pid = index.actor(event)
                yield Evidence(
                    description=f"the planted {token.kind} was sent out, in {where}",
                    event_ids=(event.seq,),
                    process=index.chain(pid, event.seq) if pid else (),
                    destination=index.net_destination(event),
                    excerpt=excerpt,
                    path=token.path,
                )


def _texts(event: NetEvent) -> Iterator[tuple[str, str]]:
    """(where, text) of what a network event carried out of the container."""
    if isinstance(event, HttpRequested):
        yield "the HTTP request URL", event.path
        for name, value in event.headers:
            yield f"the HTTP header {name}", value
        yield "the HTTP body", event.body_preview
    elif isinstance(event, DnsQueried):
        yield "a DNS query name", event.name
    elif isinstance(event, (BytesSunk, DatagramSunk)):
        yield "raw bytes sent", event.preview
    elif isinstance(event, IrcMessaged):
        yield "an IRC message", event.text
    elif isinstance(event, DockerApiCalled):
        yield "a Docker API request body", event.body_preview
    elif isinstance(event, TlsHello):
        yield "the TLS server name", event.sni


def _find(marker: str, text: str) -> str | None:
    """Context around `marker` in `text`, in the clear or inside a base64 run; None if absent."""
    if not text:
        return None
    at = text.lower().find(marker.lower())
    if at >= 0:
        return text[max(0, at - CONTEXT) : at + len(marker) + CONTEXT]
    for run in BASE64_RUN.findall(text):
        decoded = _decode(run)
        if decoded and marker in decoded:
            at = decoded.find(marker)
            return f"{run[:40]}… decodes to …{decoded[max(0, at - CONTEXT) : at + len(marker)]}…"
    return None


def _decode(run: str) -> str:
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
    return ""
