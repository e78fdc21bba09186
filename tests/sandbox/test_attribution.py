from __future__ import annotations

from detonate.model.events import Event, NetworkConnected, NetworkSent
from detonate.model.netevents import BytesSunk, Connected, DnsQueried
from detonate.model.runtime import ProcessInfo
from detonate.sandbox.attribution import attribute

PROCESSES = (
    ProcessInfo(pid=10, ppid=0, exe="/bin/sh", argv=("sh",), start=0.0),
    ProcessInfo(pid=11, ppid=10, exe="/usr/bin/curl", argv=("curl", "a"), start=0.1),
    ProcessInfo(pid=12, ppid=10, exe="/usr/bin/curl", argv=("curl", "b"), start=0.2),
)


def traced(pid: int, ts: float, address: str, port: int, local_port: int = 0) -> Event:
    argv = PROCESSES[pid - 10].argv
    return NetworkConnected(
        seq=0,
        ts=ts,
        pid=pid,
        argv=argv,
        protocol="TCP",
        address=address,
        port=port,
        local_port=local_port,
    )


def test_flows_get_the_process_by_4_tuple_else_by_destination_and_time() -> None:
    events = (
        traced(11, 1.0, "192.0.2.1", 80),
        Connected(seq=0, ts=1.01, pid=0, src_port=5001, dst_ip="192.0.2.1", dst_port=80),
        traced(12, 2.0, "192.0.2.1", 80, local_port=5002),
        # 5001's flow goes on after process 12 connected: still process 11's
        BytesSunk(seq=0, ts=2.5, pid=0, src_port=5001, dst_ip="192.0.2.1", dst_port=80),
        # The 4-tuple wins over time (12's flow seen late, after 11 connected again)
        traced(11, 2.9, "192.0.2.1", 80),
        BytesSunk(seq=0, ts=3.0, pid=0, src_port=5002, dst_ip="192.0.2.1", dst_port=80),
        NetworkSent(seq=0, ts=3.5, pid=12, argv=("curl", "b"), address="10.1.1.1", port=53),
        # DNS events that name no destination address: by port
        DnsQueried(
            seq=0, ts=3.6, pid=0, transport="udp", src_port=7, dst_port=53,
            name="a.test", qtype="A", rcode="NOERROR",
        ),
        BytesSunk(seq=0, ts=4.0, pid=0, src_port=6000, dst_ip="203.0.113.9", dst_port=22),
    )  # fmt: skip
    out = attribute(events, PROCESSES)
    assert [e.pid for e in out] == [11, 11, 12, 11, 11, 12, 12, 12, 0]
    assert out[1].argv == ("curl", "a") and out[1].ppid == 10
    assert [e.ts for e in out] == [e.ts for e in events]  # nothing else changes
