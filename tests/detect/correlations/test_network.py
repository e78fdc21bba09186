from __future__ import annotations

from detonate.detect.correlations.flood import Flood
from detonate.detect.correlations.network_scan import NetworkScan
from detonate.model.findings import Severity
from detonate.model.netevents import HttpRequested, TrafficMeasured

from .stream import Stream


def test_sweep_of_propagation_ports_is_a_high_scan() -> None:
    s = Stream()
    s.exec(1, "scanner", path="/tmp/s")
    for host in range(6):
        s.connect(1, f"198.51.100.{host}", 2375, ok=False)
        s.connect(1, f"198.51.100.{host}", 10250, ok=False)
    (found,) = NetworkScan().detect(s.view())
    assert found.severity == Severity.HIGH
    assert "Docker API (2375)" in found.evidence[0].description


def test_many_ports_on_one_host_is_a_scan() -> None:
    s = Stream()
    s.exec(1, "probe", path="/tmp/p")
    for port in range(8000, 8012):
        s.connect(1, "192.0.2.44", port, ok=False)
    (found,) = NetworkScan().detect(s.view())
    assert found.severity == Severity.MEDIUM


def test_few_destinations_spread_over_minutes_are_no_scan() -> None:
    s = Stream()
    s.exec(1, "app", path="/app")
    for n in range(25):
        s.connect(1, f"192.0.2.{n}", 443, ok=True)
        s.ts += 61  # one per minute: an app talking to its backends
    assert NetworkScan().detect(s.view()) == ()


def _requests(s: Stream, host: str, count: int, step: float) -> None:
    for n in range(count):
        s.connect(1, "198.18.0.2", 80)
        s.add(
            HttpRequested,
            1,
            step=step,
            method="GET",
            host=host,
            path=f"/?q={n}",
            dst_ip="198.18.0.2",
            dst_port=80,
        )


def test_hundreds_of_requests_a_second_to_one_host_is_an_http_flood() -> None:
    s = Stream()
    s.exec(1, "node", "bot.js", path="/usr/bin/node")
    _requests(s, "shop.victim.test", 300, step=0.002)
    found = Flood().detect(s.view())
    assert [f.rule_id for f in found] == ["http-flood"]  # its packets are not a second flood
    assert "300 HTTP requests to shop.victim.test" in found[0].evidence[0].description


def test_a_crawler_pace_is_not_a_flood() -> None:
    s = Stream()
    s.exec(1, "crawler", path="/app/crawler")
    _requests(s, "docs.example.test", 150, step=0.5)
    assert Flood().detect(s.view()) == ()


def test_udp_packet_storm_is_a_packet_flood() -> None:
    s = Stream()
    s.add(
        TrafficMeasured,
        0,
        packets=90_000,
        bytes_total=5_000_000,
        seconds=9.0,
        peak_pps=10_000,
        distinct_destinations=1,
        distinct_addresses=1,
        dropped_by_limit=80_000,
        pcap_bytes=1_000_000,
        pcap_truncated=True,
    )
    assert [f.rule_id for f in Flood().detect(s.view())] == ["packet-flood"]
