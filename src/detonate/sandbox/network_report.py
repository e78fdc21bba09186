"""The report's view of a run's network: sections by protocol, and the IOCs the run revealed.

Names and addresses here are what the *sample* asked for: the simulator answers every name with
an address of its own (198.18.0.0/15), so an address is an indicator only when the sample used
it literally (the event has no `domain`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from detonate.model.event_codec import event_record
from detonate.model.events import Event
from detonate.model.iocs import Iocs
from detonate.model.netevents import (
    BytesSunk,
    Connected,
    DatagramSunk,
    DnsQueried,
    DockerApiCalled,
    HttpRequested,
    IrcJoined,
    IrcMessaged,
    StratumLogin,
    StratumSessionEnded,
    TlsHello,
    TrafficMeasured,
)

SECTIONS: dict[str, tuple[type[Event], ...]] = {
    "dns": (DnsQueried,),
    "connections": (Connected,),
    "http": (HttpRequested,),
    "tls": (TlsHello,),
    "stratum": (StratumLogin, StratumSessionEnded),
    "irc": (IrcJoined, IrcMessaged),
    "docker_api": (DockerApiCalled,),
    "sinks": (BytesSunk, DatagramSunk),
}
MAX_PER_SECTION = 500  # a flood gives thousands of identical rows; the traffic row counts them
SINKHOLE_PREFIXES = ("198.18.", "198.19.")


def network_section(events: Iterable[Event]) -> dict[str, Any]:
    events = tuple(events)
    section: dict[str, Any] = {}
    for name, kinds in SECTIONS.items():
        rows = [event_record(e) for e in events if isinstance(e, kinds)]
        if rows:
            section[name] = rows[:MAX_PER_SECTION]
            if len(rows) > MAX_PER_SECTION:
                section[f"{name}_omitted"] = len(rows) - MAX_PER_SECTION
    traffic = [e for e in events if isinstance(e, TrafficMeasured)]
    if traffic:
        section["traffic"] = event_record(traffic[-1])
    return section


def _literal_address(event: Connected | DatagramSunk) -> str:
    if event.domain or not event.dst_ip or event.dst_ip.startswith(SINKHOLE_PREFIXES):
        return ""
    return event.dst_ip


def runtime_iocs(events: Iterable[Event]) -> Iocs:
    domains: set[str] = set()
    ips: set[str] = set()
    urls: set[str] = set()
    wallets: set[str] = set()
    pools: set[str] = set()
    for event in events:
        if isinstance(event, DnsQueried) and event.name:
            domains.add(event.name.rstrip(".").lower())
        elif isinstance(event, Connected | DatagramSunk):
            if address := _literal_address(event):
                ips.add(address)
        elif isinstance(event, HttpRequested):
            urls.add(event.url)
        elif isinstance(event, StratumLogin) and not event.donation:
            if event.wallet:
                wallets.add(event.wallet)
            host = event.sni or event.domain or event.dst_ip
            scheme = "stratum+ssl" if event.tls else "stratum+tcp"
            pools.add(f"{scheme}://{host}:{event.dst_port}")
    return Iocs(
        domains=tuple(sorted(domains)),
        ips=tuple(sorted(ips)),
        urls=tuple(sorted(urls)),
        wallets=tuple(sorted(wallets)),
        pools=tuple(sorted(pools)),
    )
