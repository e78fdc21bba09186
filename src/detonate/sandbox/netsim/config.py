"""Knobs of the simulated internet. Every limit that protects the host has a default."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024**2

# Names answered NXDOMAIN by default: reserved TLDs that must never resolve.
DEFAULT_NXDOMAIN = ("*.invalid", "invalid")


@dataclass(frozen=True)
class NetsimConfig:
    # fnmatch patterns of names answered NXDOMAIN (to exercise fallback and DGA behaviour)
    nxdomain: tuple[str, ...] = DEFAULT_NXDOMAIN
    # (fnmatch pattern on the request path, payload kind) tried in order before the default
    # choice by extension; kinds: "script", "elf", "html", "json", "text", "notfound"
    payloads: tuple[tuple[str, str], ...] = ()
    # every name gets its own address in 198.18.0.0/15, so a connection tells which name it
    # used; False: every name resolves to the simulator's own address
    address_per_name: bool = True
    banner_wait_seconds: float = 0.6  # silence after which 21/22/25 … get a server banner
    idle_seconds: float = 30.0  # a connection silent this long is closed
    stratum_job_seconds: float = 20.0  # a new job pushed this often
    record_bytes: int = 4096  # bytes of a raw stream / datagram / HTTP body kept
    max_connections: int = 2048  # held at once; more are accepted and closed at once
    max_events: int = 50_000  # written per run; later ones are counted, not written
    packets_per_second: int = 5000  # sample → simulator, above it dropped (and counted)
    reply_kbit: int = 20_000  # simulator → sample bandwidth
    pcap_max_bytes: int = 32 * MiB
