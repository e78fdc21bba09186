"""DNS: every name resolves (to its sinkhole address) unless it matches an NXDOMAIN pattern.

The container's own names are the exception: `localhost` (and `*.localhost`, RFC 6761) is
127.0.0.1 and the container's hostname its own address, as /etc/hosts says. Resolvers that
ask DNS before the hosts file (a static glibc without nsswitch.conf does) would otherwise
send the sample's talk to itself to a sinkhole. In a real container the hosts file or the
runtime's own DNS answers them, never the internet: they are answered but not recorded.
"""

from __future__ import annotations

import asyncio
import fnmatch

from dnslib import QTYPE, RCODE, RR, A, DNSError, DNSLabel, DNSRecord
from dnslib.label import DNSLabelError

from detonate.sandbox.netsim.names import NameBook
from detonate.sandbox.netsim.recorder import Flow, Recorder

TTL = 60
LOOPBACK = "127.0.0.1"


class Resolver:
    def __init__(
        self,
        names: NameBook,
        nxdomain: tuple[str, ...],
        recorder: Recorder,
        local_names: dict[str, str] | None = None,
    ) -> None:
        self._names = names
        self._nxdomain = tuple(p.lower() for p in nxdomain)
        self._recorder = recorder
        self._local = {name.lower(): address for name, address in (local_names or {}).items()}

    def add_local_names(self, local_names: dict[str, str]) -> None:
        """Names learned after the start (a simulator started ahead of its run)."""
        self._local.update((name.lower(), address) for name, address in local_names.items())

    def local_address(self, name: str) -> str:
        """127.0.0.1 for localhost, the container's address for its hostname, else ""."""
        if name == "localhost" or name.endswith(".localhost"):
            return LOOPBACK
        return self._local.get(name, "")

    def answer(self, query: bytes, flow: Flow) -> bytes | None:
        """The reply to one DNS message, or None for bytes that are not a query."""
        try:
            request = DNSRecord.parse(query)
        except (DNSError, DNSLabelError, ValueError, IndexError):
            return None
        if not request.questions or not _packable(request.q.qname):
            return None
        reply = request.reply()
        question = request.q
        name = str(question.qname).rstrip(".").lower()
        qtype = QTYPE.get(question.qtype, str(question.qtype))
        answers: list[str] = []
        local = self.local_address(name)
        if local:
            if qtype in ("A", "ANY"):
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(local), ttl=TTL))
            packed_local: bytes = reply.pack()
            return packed_local
        if any(fnmatch.fnmatchcase(name, p) for p in self._nxdomain):
            reply.header.rcode = RCODE.NXDOMAIN
        elif qtype in ("A", "ANY"):
            address = self._names.address_for(name)
            reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=TTL))
            answers.append(address)
        # AAAA and the rest: NOERROR without records; the sample has no IPv6 route, so it
        # falls back to A as on an IPv4-only network.
        self._recorder.emit(
            "dns_queried",
            flow,
            name=name,
            qtype=qtype,
            rcode=RCODE.get(reply.header.rcode),
            answers=answers,
        )
        packed: bytes = reply.pack()
        return packed


def _packable(name: DNSLabel) -> bool:
    """dnslib reads labels over 63 bytes (and names over 253) but refuses to write them back
    into the reply; no resolver answers such a name anyway."""
    return len(name) <= 253 and all(len(label) <= 63 for label in name.label)


class DnsDatagrams(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver, local_ip: str) -> None:
        self._resolver = resolver
        self._local_ip = local_ip
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # redirected from any address on port 53: the original resolver address is in the pcap
        flow = Flow(addr[0], addr[1], "", 53, transport="udp")
        reply = self._resolver.answer(data, flow)
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)
