from __future__ import annotations

from detonate.detect.correlations.flood import Flood
from detonate.detect.correlations.network_scan import NetworkScan
from detonate.model.events import NetworkSent
from detonate.model.findings import Confidence, Severity
from detonate.model.netevents import Connected, DatagramSunk, HttpRequested, TrafficMeasured

from .stream import Stream


def _measured(
    s: Stream,
    *,
    packets: int,
    bytes_total: int,
    seconds: float,
    peak_pps: int,
    destinations: int,
    pcap_bytes: int,
    dropped: int = 0,
    truncated: bool = False,
) -> None:
    """The simulator's traffic totals for the run (one address per destination)."""
    s.add(
        TrafficMeasured,
        0,
        packets=packets,
        bytes_total=bytes_total,
        seconds=seconds,
        peak_pps=peak_pps,
        distinct_destinations=destinations,
        distinct_addresses=destinations,
        dropped_by_limit=dropped,
        pcap_bytes=pcap_bytes,
        pcap_truncated=truncated,
    )


def test_sweep_of_hosts_on_two_propagation_ports_is_critical() -> None:
    s = Stream()
    s.exec(1, "scanner", path="/tmp/s")
    for host in range(6):
        s.connect(1, f"198.51.100.{host}", 2375, ok=False)
        s.connect(1, f"198.51.100.{host}", 10250, ok=False)
    (found,) = NetworkScan().detect(s.view())
    assert found.severity == Severity.CRITICAL
    assert "Docker API (2375)" in found.evidence[0].description
    assert "6 hosts tried on these services" in found.evidence[0].description


def test_sweep_on_one_propagation_port_is_high() -> None:
    s = Stream()
    s.exec(1, "scanner", path="/tmp/s")
    for host in range(25):
        s.connect(1, f"198.51.100.{host}", 22, ok=False)
    (found,) = NetworkScan().detect(s.view())
    assert found.severity == Severity.HIGH


def test_probe_of_propagation_ports_on_one_host_is_high_not_critical() -> None:
    s = Stream()
    s.exec(1, "probe", path="/tmp/p")
    for port in [22, 2375, 2376, 6379, 6443, 10250, 8080, 8443, 9000, 9090]:
        s.connect(1, "192.0.2.44", port, ok=False)
    (found,) = NetworkScan().detect(s.view())
    assert found.severity == Severity.HIGH


def test_sweep_of_resolved_names_on_one_address_counts_names_as_hosts() -> None:
    s = Stream()
    s.exec(1, "discover", path="/tmp/d")
    services = [("redis", 6379), ("kubelet", 10250), ("docker", 2375), ("apiserver", 6443)]
    for namespace in ["default", "kube-system", "prod", "staging", "dev"]:
        for name, port in services:
            s.connect(1, "198.18.0.1", port, ok=False)
            s.add(
                Connected,
                1,
                dst_ip="198.18.0.1",
                dst_port=port,
                domain=f"{name}.{namespace}.svc.cluster.test",
            )
    for port in range(8000, 8010):  # enough ports on the one address to be a scan
        s.connect(1, "198.18.0.1", port, ok=False)
    (found,) = NetworkScan().detect(s.view())
    assert found.severity == Severity.CRITICAL


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
    _measured(
        s,
        packets=90_000,
        bytes_total=5_000_000,
        seconds=9.0,
        peak_pps=10_000,
        destinations=1,
        dropped=80_000,
        pcap_bytes=1_000_000,
        truncated=True,
    )
    assert [f.rule_id for f in Flood().detect(s.view())] == ["packet-flood"]


def _udp_sends(s: Stream, pid: int, address: str, port: int, count: int, step: float) -> None:
    for _ in range(count):
        s.add(NetworkSent, pid, step=step, protocol="UDP", address=address, port=port, bytes=1024)


def test_udp_burst_from_several_workers_to_one_target_is_a_packet_flood() -> None:
    s = Stream()
    for worker in (2, 3, 4):
        s.exec(worker, "netbench", path="/usr/local/bin/netbench")
        _udp_sends(s, worker, "203.0.113.200", 80, 300, step=0.0003)
        s.add(
            DatagramSunk,
            worker,
            transport="udp",
            dst_ip="203.0.113.200",
            dst_port=80,
            datagrams=300,
            bytes_total=307_200,
        )
    (found,) = Flood().detect(s.view())
    assert found.rule_id == "packet-flood"
    assert "900 datagrams" in found.evidence[0].description
    assert "from 3 processes" in found.evidence[0].description


def test_sunk_datagrams_alone_judge_the_burst_by_the_measured_peak() -> None:
    s = Stream()
    for worker in (2, 3, 4):
        s.add(DatagramSunk, worker, dst_ip="203.0.113.200", dst_port=80, datagrams=300)
    _measured(
        s,
        packets=908,
        bytes_total=960_000,
        seconds=0.11,
        peak_pps=908,
        destinations=3,
        pcap_bytes=975_000,
    )
    assert [f.rule_id for f in Flood().detect(s.view())] == ["packet-flood"]


def test_statsd_metrics_and_dns_lookups_are_no_flood() -> None:
    s = Stream()
    s.exec(1, "app", path="/app")
    _udp_sends(s, 1, "192.0.2.8", 8125, 120, step=0.25)  # a few metrics a second for 30 s
    _udp_sends(s, 1, "192.0.2.53", 53, 600, step=0.001)  # resolver lookups are no target
    s.add(DatagramSunk, 1, dst_ip="192.0.2.8", dst_port=8125, datagrams=120)
    _measured(
        s,
        packets=5000,  # a download alongside: its peak is not the metrics'
        bytes_total=6_000_000,
        seconds=30.0,
        peak_pps=1500,
        destinations=3,
        pcap_bytes=6_000_000,
    )
    assert Flood().detect(s.view()) == ()


def test_many_loopback_ports_tried_is_a_local_port_scan() -> None:
    s = Stream()
    s.exec(1, "sh", "/scan.sh", path="/bin/sh")
    for port in range(8000, 8024):
        s.connect(1, "127.0.0.1", port, ok=False)
    (found,) = NetworkScan().detect(s.view())
    assert found.severity == Severity.MEDIUM
    assert "24 ports" in found.evidence[0].description


def test_a_readiness_gate_retrying_its_few_loopback_ports_is_no_scan() -> None:
    s = Stream()
    s.exec(1, "waitfor", path="/usr/local/bin/waitfor")
    for _ in range(20):
        for port in (5432, 6379, 8080):
            s.connect(1, "127.0.0.1", port, ok=False)
    assert NetworkScan().detect(s.view()) == ()


def test_raw_socket_packets_at_one_address_are_a_critical_flood() -> None:
    # an ICMP echo storm hand-built on a raw socket by a Python program: each sendto is a packet
    s = Stream()
    s.exec(2, "python3", "/opt/pinger.py", path="/usr/bin/python3")
    for _ in range(1200):
        s.add(NetworkSent, 2, step=0.0005, protocol="RAW", address="198.51.100.40", bytes=64)
    (found,) = Flood().detect(s.view())
    assert (found.rule_id, found.severity, found.confidence) == (
        "packet-flood",
        Severity.CRITICAL,
        Confidence.HIGH,
    )
    assert found.evidence[0].description.startswith("1200 raw packets (76800 bytes)")


def test_a_packet_rate_without_one_target_stays_high() -> None:
    s = Stream()
    _measured(
        s,
        packets=30_000,
        bytes_total=3_000_000,
        seconds=6.0,
        peak_pps=6000,
        destinations=40,
        pcap_bytes=1_000_000,
        truncated=True,
    )
    (found,) = Flood().detect(s.view())
    assert found.severity is Severity.HIGH
