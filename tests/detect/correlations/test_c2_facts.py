"""C2 and exfiltration judged by what the traffic carries: host facts encoded in DNS labels,
in HTTP headers and cookies, beacons with a new random path each time, and credentials copied
into a socket by the kernel (sendfile) — on event streams built like the tracer's."""

from __future__ import annotations

import base64

from detonate.detect.correlations.beaconing import Beaconing
from detonate.detect.correlations.dns_shape import DnsShape
from detonate.detect.correlations.exfiltration import Exfiltration
from detonate.model.events import FileOpenedForRead, NetworkSent, SleepSkipped
from detonate.model.findings import Confidence, Severity
from detonate.model.netevents import Connected, DnsQueried, HttpRequested
from detonate.model.runtime import EndReason, RunInfo, RunStatus

from .stream import Stream

HOST = "30861418300c"


def _stream() -> Stream:
    s = Stream(run=RunInfo(RunStatus.COMPLETED, EndReason.EXITED, 30.0, 10, hostname=HOST))
    s.exec(1, "agent", path="/usr/local/bin/agent")
    return s


def _lookups(s: Stream, labels: str, rounds: int = 5) -> None:
    for n in range(rounds):
        s.add(DnsQueried, 1, name=f"r{n}.{labels}.edge.test", qtype="A", rcode="NOERROR",
              dst_ip="198.18.0.53", dst_port=53)  # fmt: skip
        s.add(SleepSkipped, 1, call="clock_nanosleep", requested_seconds=30.0)


def test_dns_names_carrying_the_hex_host_name_and_kernel_are_a_beacon() -> None:
    host, kernel = HOST.encode().hex(), b"6.1.0-18-amd64".hex()
    s = _stream()
    _lookups(s, f"{host}.{kernel}")
    found = {f.rule_id: f for f in DnsShape().detect(s.view())}
    beacon = found["dns-host-facts-beacon"]
    assert (beacon.severity, beacon.confidence) == (Severity.CRITICAL, Confidence.HIGH)
    assert "host name and kernel" in beacon.evidence[0].description
    assert found["host-facts-in-dns-names"].technique == "T1082"


def test_a_base32_host_name_alone_split_over_labels_is_high_medium() -> None:
    encoded = base64.b32encode(f"host={HOST}".encode()).decode().rstrip("=").lower()
    s = _stream()
    _lookups(s, f"{encoded[:10]}.{encoded[10:]}")
    (beacon, _) = DnsShape().detect(s.view())
    assert (beacon.severity, beacon.confidence) == (Severity.HIGH, Confidence.MEDIUM)


def test_host_name_in_clear_service_names_is_not_a_beacon() -> None:
    s = _stream()
    _lookups(s, f"{HOST}.svc.cluster")
    assert [f for f in DnsShape().detect(s.view()) if "facts" in f.rule_id] == []


def _get(s: Stream, path: str, headers: tuple[tuple[str, str], ...]) -> None:
    s.add(HttpRequested, 1, method="GET", host="cdn.edge.test", path=path, headers=headers,
          dst_ip="198.18.0.7", dst_port=80)  # fmt: skip
    s.add(SleepSkipped, 1, call="clock_nanosleep", requested_seconds=20.0)


def test_random_paths_with_id_output_in_a_cookie_are_a_beacon() -> None:
    cookie = base64.b64encode(b"Linux h 6.1.0-18-amd64\nuid=0(root) gid=0(root)").decode()
    s = _stream()
    for n in range(5):
        _get(s, f"/static/{n:04x}a9c1.png", (("Cookie", f"_ga={cookie}"),))
    (found,) = [f for f in Beaconing().detect(s.view()) if f.rule_id == "http-c2-beaconing"]
    assert (found.severity, found.confidence) == (Severity.HIGH, Confidence.HIGH)
    assert "each for a path of its own" in found.evidence[0].description


def test_a_browser_user_agent_names_no_host_fact() -> None:
    s = _stream()
    for n in range(5):
        _get(s, f"/p/{n}", (("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"),))
    (found,) = Beaconing().detect(s.view())
    assert found.severity == Severity.LOW  # a pace, nothing carried


def _send(s: Stream, call: str, port: int = 53, protocol: str = "TCP") -> None:
    s.add(NetworkSent, 1, family="AF_INET", protocol=protocol, address="203.0.113.7", port=port,
          bytes=300, call=call, succeeded=True)  # fmt: skip


def test_shadow_sendfile_to_tcp_53_is_credentials_sent_out_high() -> None:
    s = _stream()
    s.connect(1, "203.0.113.7", 53)
    s.add(FileOpenedForRead, 1, path="/etc/shadow", flags="O_RDONLY")
    _send(s, "write")
    _send(s, "sendfile")
    (found,) = [f for f in Exfiltration().detect(s.view()) if f.rule_id == "credentials-sent-out"]
    assert found.confidence == Confidence.HIGH


def test_shadow_read_then_a_plain_write_stays_medium() -> None:
    s = _stream()
    s.connect(1, "203.0.113.7", 8080)
    s.add(FileOpenedForRead, 1, path="/etc/shadow", flags="O_RDONLY")
    _send(s, "write", port=8080)
    (found,) = [f for f in Exfiltration().detect(s.view()) if f.rule_id == "credentials-sent-out"]
    assert found.confidence == Confidence.MEDIUM


def test_dns_over_udp_after_a_shadow_read_is_not_a_send() -> None:
    s = _stream()
    s.add(FileOpenedForRead, 1, path="/etc/shadow", flags="O_RDONLY")
    _send(s, "sendto", protocol="UDP")
    assert Exfiltration().detect(s.view()) == ()


WORDS = ["amber", "delta", "kettle", "lumen", "basil", "ember", "fable", "onyx"]
NOUNS = ["relay", "portal", "vault", "beacon", "signal", "forge", "orbit", "harbor"]


def _word_names(s: Stream, count: int) -> list[str]:
    names = [f"{WORDS[n % 8]}{NOUNS[(n * 3) % 8]}{(n * 37) % 100}.test" for n in range(count)]
    for n, name in enumerate(names):
        s.add(DnsQueried, 1, name=name, qtype="A", rcode="NOERROR", answers=(f"198.18.1.{n}",),
              dst_ip="198.18.0.53", dst_port=53)  # fmt: skip
    return names


def test_word_template_names_searched_then_one_contacted_are_a_dga() -> None:
    s = _stream()
    names = _word_names(s, 10)
    s.add(HttpRequested, 1, method="GET", host=names[0], path="/cdn/v1/check", domain=names[0],
          dst_ip="198.18.1.0", dst_port=80)  # fmt: skip
    (found,) = [f for f in DnsShape().detect(s.view()) if f.rule_id == "dga-lookups"]
    assert (found.severity, found.confidence) == (Severity.CRITICAL, Confidence.HIGH)


def test_word_template_names_each_contacted_are_a_crawl_not_a_dga() -> None:
    s = _stream()
    for n, name in enumerate(_word_names(s, 10)):
        s.add(HttpRequested, 1, method="GET", host=name, path="/", domain=name,
              dst_ip=f"198.18.1.{n}", dst_port=80)  # fmt: skip
    assert [f for f in DnsShape().detect(s.view()) if f.rule_id == "dga-lookups"] == []


def test_word_template_names_each_connected_by_address_are_a_crawl_not_a_dga() -> None:
    s = _stream()
    for n, _ in enumerate(_word_names(s, 10)):
        s.add(Connected, 1, dst_ip=f"198.18.1.{n}", dst_port=443)
    assert [f for f in DnsShape().detect(s.view()) if f.rule_id == "dga-lookups"] == []


def test_word_template_names_contacted_only_before_they_were_asked_are_a_dga() -> None:
    s = _stream()
    for n in range(10):
        s.add(Connected, 1, dst_ip=f"198.18.1.{n}", dst_port=443)
    _word_names(s, 10)
    assert [f.rule_id for f in DnsShape().detect(s.view())] == ["dga-lookups"]


def test_a_beacon_carrying_host_facts_names_the_discovery() -> None:
    s = _stream()
    for n in range(4):
        _get(s, f"/c?h={HOST}&k=6.1.0-18-amd64&r={n}", ())
    found = {f.rule_id: f for f in Beaconing().detect(s.view())}
    assert found["http-c2-beaconing"].severity == Severity.HIGH
    assert found["host-facts-in-http-beacon"].technique == "T1082"
