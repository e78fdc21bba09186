"""Network facts seen by the simulated internet (`sandbox.netsim`), in past tense.

Every kind carries the flow it was seen on (`src_ip:src_port → dst_ip:dst_port`, `dst_*` being
the *original* destination the sample asked for, before the simulator redirected it). The
simulator does not know processes: it emits `pid=0`; the pipeline attributes each event to the
process whose `connect`/`sendto` opened that flow, by 4-tuple.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from detonate.model.events import Event


@dataclass(frozen=True, kw_only=True)
class NetEvent(Event):
    kind: ClassVar[str] = "net"

    transport: str = "tcp"  # "tcp" | "udp"
    src_ip: str = ""
    src_port: int = 0
    dst_ip: str = ""  # original destination, as the sample addressed it
    dst_port: int = 0
    domain: str = ""  # the name the sample resolved to reach dst_ip, "" if it used an address


@dataclass(frozen=True, kw_only=True)
class DnsQueried(NetEvent):
    kind: ClassVar[str] = "dns_queried"

    name: str
    qtype: str  # "A", "AAAA", "TXT" …
    rcode: str  # "NOERROR" | "NXDOMAIN"
    answers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Connected(NetEvent):
    kind: ClassVar[str] = "connected"

    protocol: str = ""  # what the first bytes looked like: http, tls, stratum, irc, ssh, raw …


@dataclass(frozen=True, kw_only=True)
class HttpRequested(NetEvent):
    kind: ClassVar[str] = "http_requested"

    method: str
    host: str
    path: str  # the request target as sent: path and query
    headers: tuple[tuple[str, str], ...] = ()
    body_bytes: int = 0
    body_preview: str = ""  # first bytes of the body, undecodable bytes escaped
    tls: bool = False
    sni: str = ""
    served: str = ""  # stand-in payload answered: script, elf, html, json, configured …
    status: int = 200

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        default = 443 if self.tls else 80
        host = self.host or self.sni or self.domain or self.dst_ip
        if ":" not in host and self.dst_port != default:
            host = f"{host}:{self.dst_port}"
        return f"{scheme}://{host}{self.path}"


@dataclass(frozen=True, kw_only=True)
class TlsHello(NetEvent):
    kind: ClassVar[str] = "tls_hello"

    sni: str = ""
    alpn: tuple[str, ...] = ()
    handshake_ok: bool = False  # False: the client refused our certificate or hung up


@dataclass(frozen=True, kw_only=True)
class StratumLogin(NetEvent):
    kind: ClassVar[str] = "stratum_login"

    dialect: str  # "xmrig" (login/job/submit) | "bitcoin" (mining.subscribe/authorize)
    login: str  # as sent, e.g. "WALLET.rig1"
    wallet: str  # login with worker suffixes (".", "+") split off
    worker: str = ""
    password: str = ""
    agent: str = ""
    rig_id: str = ""
    algos: tuple[str, ...] = ()  # the first one is the coin the miner intends
    tls: bool = False
    sni: str = ""
    donation: bool = False  # xmrig's own donation pool, not the attacker's


@dataclass(frozen=True, kw_only=True)
class StratumSessionEnded(NetEvent):
    kind: ClassVar[str] = "stratum_session_ended"

    wallet: str = ""
    jobs_sent: int = 0
    shares: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class IrcJoined(NetEvent):
    kind: ClassVar[str] = "irc_joined"

    nick: str
    user: str = ""
    channel: str = ""  # "" when the client registered but never joined


@dataclass(frozen=True, kw_only=True)
class IrcMessaged(NetEvent):
    kind: ClassVar[str] = "irc_messaged"

    nick: str
    target: str
    text: str


@dataclass(frozen=True, kw_only=True)
class DockerApiCalled(NetEvent):
    kind: ClassVar[str] = "docker_api_called"

    method: str
    path: str  # without the /v1.xx prefix, e.g. "/containers/create"
    query: str = ""
    operation: str = ""  # "ping", "version", "info", "image.pull", "container.create" …
    image: str = ""
    cmd: tuple[str, ...] = ()
    privileged: bool = False
    binds: tuple[str, ...] = ()
    body_preview: str = ""
    tls: bool = False


@dataclass(frozen=True, kw_only=True)
class BytesSunk(NetEvent):
    kind: ClassVar[str] = "bytes_sunk"

    protocol: str = "raw"  # raw, ssh, smtp, ftp (after their banner)
    bytes_total: int = 0
    preview: str = ""  # first 4 KiB, undecodable bytes escaped


@dataclass(frozen=True, kw_only=True)
class DatagramSunk(NetEvent):
    kind: ClassVar[str] = "datagram_sunk"

    datagrams: int = 1  # datagrams of this flow (src → original dst) during the run
    bytes_total: int = 0
    preview: str = ""  # the first datagram's first bytes


@dataclass(frozen=True, kw_only=True)
class TrafficMeasured(Event):
    """One per run: what the sample offered to the network, before the rate limit."""

    kind: ClassVar[str] = "traffic_measured"

    packets: int
    bytes_total: int
    seconds: float  # from the first to the last packet
    peak_pps: int  # most packets seen within one second
    distinct_destinations: int  # (address, protocol, port) triples, capped at 65536
    distinct_addresses: int
    dropped_by_limit: int  # packets the simulator's rate limit dropped
    pcap_bytes: int
    pcap_truncated: bool


NET_EVENT_KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        DnsQueried,
        Connected,
        HttpRequested,
        TlsHello,
        StratumLogin,
        StratumSessionEnded,
        IrcJoined,
        IrcMessaged,
        DockerApiCalled,
        BytesSunk,
        DatagramSunk,
        TrafficMeasured,
    )
}
