"""DNS: every name resolves (to its sinkhole address) unless it matches an NXDOMAIN pattern."""

from __future__ import annotations

import asyncio
import fnmatch

from dnslib import QTYPE, RCODE, RR, A, DNSError, DNSRecord

from detonate.sandbox.netsim.names import NameBook
from detonate.sandbox.netsim.recorder import Flow, Recorder

TTL = 60


class Resolver:
    def __init__(self, names: NameBook, nxdomain: tuple[str, ...], recorder: Recorder) -> None:
        self._names = names
        self._nxdomain = tuple(p.lower() for p in nxdomain)
        self._recorder = recorder

    def answer(self, query: bytes, flow: Flow) -> bytes | None:
        """The reply to one DNS message, or None for bytes that are not a query."""
        try:
            request = DNSRecord.parse(query)
        except (DNSError, ValueError, IndexError):
            return None
        if not request.questions:
            return None
        reply = request.reply()
        question = request.q
        name = str(question.qname).rstrip(".").lower()
        qtype = QTYPE.get(question.qtype, str(question.qtype))
        answers: list[str] = []
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
