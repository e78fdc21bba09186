from __future__ import annotations

from detonate.detect.correlations.beaconing import Beaconing
from detonate.model.events import SleepSkipped
from detonate.model.findings import Confidence, Severity
from detonate.model.netevents import HttpRequested

from .stream import Stream


def _request(s: Stream, path: str, host: str, ip: str = "198.18.0.1", **fields: object) -> None:
    fields.setdefault("method", "GET")
    s.add(HttpRequested, 2, host=host, path=path, dst_ip=ip, dst_port=80, **fields)


def _poll_loop(s: Stream, host: str, ip: str, rounds: int, path: str = "/tasks") -> None:
    for n in range(rounds):
        _request(s, f"{path}?n={n}", host, ip)
        s.add(SleepSkipped, 3, call="clock_nanosleep", requested_seconds=3.0)


def test_polls_with_skipped_sleeps_between_them_are_named_low() -> None:
    # a steady pace alone is every agent's (a health heartbeat, a DDNS update): named, low
    s = Stream()
    s.exec(1, "sh", "/etc/init.d/agent", path="/bin/sh")
    _poll_loop(s, "updates.cdn-node.test", "198.18.0.1", rounds=5)
    (found,) = Beaconing().detect(s.view())
    assert found.rule_id == "http-c2-beaconing"
    assert found.severity == Severity.LOW
    assert "5 requests for GET /tasks on updates.cdn-node.test" in found.evidence[0].description


def test_polls_and_a_host_report_are_a_high_confidence_beacon() -> None:
    s = Stream()
    s.exec(1, "sh", "/etc/init.d/agent", path="/bin/sh")
    _poll_loop(s, "updates.cdn-node.test", "198.18.0.1", rounds=4)
    body = "id=c8c7&uid=0&arch=x86_64"
    _request(s, "/beacon", "updates.cdn-node.test", method="POST", body_preview=body)
    found, discovery = Beaconing().detect(s.view())
    assert (found.severity, found.confidence) == (Severity.HIGH, Confidence.HIGH)
    assert discovery.rule_id == "host-facts-in-http-beacon"
    assert "architecture and user id" in found.evidence[1].description


def test_evenly_spaced_polls_without_sleeps_are_beaconing() -> None:
    s = Stream()
    s.exec(1, "agent", path="/usr/local/bin/agent")
    for n in range(5):
        _request(s, f"/c?seq={n}", "cdn.node.test", step=10.0)
    assert [f.rule_id for f in Beaconing().detect(s.view())] == ["http-c2-beaconing"]


def test_health_loop_against_loopback_is_not_beaconing() -> None:
    s = Stream()
    s.exec(1, "sh", "/health.sh", path="/bin/sh")
    _poll_loop(s, "127.0.0.1:8081", "127.0.0.1", rounds=8, path="/health")
    _poll_loop(s, "localhost", "127.0.0.1", rounds=8, path="/ping")
    assert Beaconing().detect(s.view()) == ()


def test_package_mirror_fetches_are_not_beaconing() -> None:
    s = Stream()
    s.exec(1, "apt-get", "update", path="/usr/bin/apt-get")
    for suite in ["bookworm", "bookworm-updates", "bookworm-security", "bookworm-backports"]:
        _request(s, f"/debian/dists/{suite}/InRelease", "deb.debian.test")
        s.add(SleepSkipped, 3, call="nanosleep", requested_seconds=0.5)
    assert Beaconing().detect(s.view()) == ()


def test_few_requests_and_irregular_paging_are_not_beaconing() -> None:
    s = Stream()
    s.exec(1, "python3", "sync.py", path="/usr/bin/python3")
    _poll_loop(s, "api.shop.test", "198.18.0.7", rounds=3)  # three polls are too few
    for n, gap in enumerate([0.1, 2.0, 0.3, 5.0, 0.2]):
        _request(s, f"/items?page={n}", "api.shop.test", step=gap)
    assert Beaconing().detect(s.view()) == ()


def test_an_installer_naming_its_platform_is_not_a_host_report() -> None:
    s = Stream()
    s.exec(1, "sh", "install.sh", path="/bin/sh")
    _request(s, "/download?os=Linux&arch=x86_64", "get.tool.test")
    _request(s, "/profile?uid=1234", "api.shop.test")
    assert Beaconing().detect(s.view()) == ()
