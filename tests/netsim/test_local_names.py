"""The container's own names in the simulator's DNS: `localhost` and its hostname get the
answers its /etc/hosts gives, not a sinkhole, and are not recorded; any other name is."""

from __future__ import annotations

import io
import json

from dnslib import QTYPE, DNSRecord

from detonate.sandbox.netsim.dns import Resolver
from detonate.sandbox.netsim.names import NameBook
from detonate.sandbox.netsim.recorder import Flow, Recorder

FLOW = Flow("10.131.7.2", 40000, "10.131.7.1", 53, transport="udp")


def ask(resolver: Resolver, name: str, qtype: str = "A") -> list[str]:
    reply = resolver.answer(DNSRecord.question(name, qtype).pack(), FLOW)
    assert reply is not None
    return [str(rr.rdata) for rr in DNSRecord.parse(reply).rr if rr.rtype == QTYPE.A]


def test_own_names_answer_as_the_hosts_file_and_leave_no_event() -> None:
    out = io.StringIO()
    resolver = Resolver(
        NameBook("10.131.7.1"), (), Recorder(out, 100), {"3f2a9c1d7e0b": "10.131.7.2"}
    )
    assert ask(resolver, "localhost") == ["127.0.0.1"]
    assert ask(resolver, "db.localhost") == ["127.0.0.1"]
    assert ask(resolver, "3F2A9C1D7E0B") == ["10.131.7.2"]
    assert ask(resolver, "3f2a9c1d7e0b", "AAAA") == []
    assert out.getvalue() == ""
    (sinkhole,) = ask(resolver, "pool.waits.test")
    assert sinkhole.startswith(("198.18.", "198.19."))
    (record,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert record["name"] == "pool.waits.test"
