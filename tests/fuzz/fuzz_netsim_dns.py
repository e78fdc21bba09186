"""The simulator's DNS resolver: one message in, the reply out (UDP and TCP share it).

Contract: `Resolver.answer` returns bytes (a bytearray, as dnslib packs it) that parse as a DNS
reply, or None for bytes that are not a query. Nothing raises.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from dnslib import DNSRecord
from fuzz_harness import check

from detonate.sandbox.netsim.dns import Resolver
from detonate.sandbox.netsim.names import NameBook
from detonate.sandbox.netsim.recorder import Flow, Recorder

TIME_BOUND = 5.0
_resolver: Resolver | None = None


def seeds() -> Iterator[bytes]:
    yield DNSRecord.question("pool.test").pack()
    yield DNSRecord.question("x.localhost", "AAAA").pack()
    yield DNSRecord.question("blocked.test", "ANY").pack()
    yield DNSRecord.question("box", "TXT").pack()


def fuzz(data: bytes) -> None:
    global _resolver
    if _resolver is None:
        recorder = Recorder(io.StringIO(), max_events=0)  # nothing kept: the run is long
        _resolver = Resolver(NameBook("192.0.2.1"), ("blocked.*",), recorder, {"box": "10.0.0.2"})
    reply = _resolver.answer(data, Flow("10.77.3.2", 5353, "", 53, transport="udp"))
    check(reply is None or isinstance(reply, bytes | bytearray), "answer() gave no bytes, no None")
    if reply is not None:
        DNSRecord.parse(reply)  # our own reply must be DNS
