from __future__ import annotations

from detonate.detect.correlations.sleep_evasion import SleepBeforeActivity
from detonate.model.events import SleepSkipped
from detonate.model.findings import Severity

from .stream import Stream

DETECTOR = SleepBeforeActivity()


def sleep(s: Stream, parent: int, pid: int, seconds: float) -> None:
    s.spawn(parent, pid, "sleep", str(seconds))
    s.add(SleepSkipped, pid, call="clock_nanosleep", requested_seconds=seconds)
    s.exit(pid)


def test_short_sleeps_adding_up_before_a_dropped_binary_is_high() -> None:
    s = Stream()
    s.exec(1, "sh", "/start.sh", path="/bin/sh")
    for n in range(12):
        sleep(s, 1, 10 + n, 5)  # a minute in 5 s steps, nothing in between
    s.spawn(1, 2, "fetch", "http://203.0.113.4/a")
    s.connect(2, "203.0.113.4", 80)
    s.write(2, "/tmp/a")
    s.exit(2)
    s.spawn(1, 3, "/tmp/a", path="/tmp/a")
    (found,) = DETECTOR.detect(s.view())
    assert found.severity == Severity.HIGH
    assert "60 s in 12 sleep(s)" in found.evidence[0].description


def test_delay_before_plain_network_use_is_medium() -> None:
    s = Stream()
    s.exec(1, "sh", "/start.sh", path="/bin/sh")
    sleep(s, 1, 2, 300)
    s.spawn(1, 3, "wget", "-q", "-O", "/dev/null", "http://192.0.2.1/ping")
    s.connect(3, "192.0.2.1", 80)
    (found,) = DETECTOR.detect(s.view())
    assert found.severity == Severity.MEDIUM


def test_health_loop_against_localhost_is_not_reported() -> None:
    # B1: four rounds of sleep 5; wget localhost
    s = Stream()
    s.exec(1, "sh", "/srv/run.sh", path="/bin/sh")
    for n in range(4):
        sleep(s, 1, 10 + n, 5)
        s.spawn(1, 20 + n, "wget", "-q", "-O-", "http://localhost:8080/healthz")
        s.connect(20 + n, "127.0.0.1", 8080)
        s.exit(20 + n)
    assert DETECTOR.detect(s.view()) == ()


def test_polling_loop_between_external_calls_is_not_reported() -> None:
    s = Stream()
    s.exec(1, "sh", "/poll.sh", path="/bin/sh")
    for n in range(6):
        sleep(s, 1, 10 + n, 5)
        s.spawn(1, 20 + n, "curl", "-s", "https://api.example.test/status")
        s.connect(20 + n, "192.0.2.9", 443)
        s.exit(20 + n)
    assert DETECTOR.detect(s.view()) == ()


def test_another_process_timeout_polling_does_not_delay_the_actor() -> None:
    s = Stream()
    s.exec(1, "sh", "/start.sh", path="/bin/sh")
    s.spawn(1, 2, "timeout", "20", "httpd")
    for _ in range(15):
        s.add(SleepSkipped, 2, call="clock_nanosleep", requested_seconds=1.0)
    s.spawn(1, 3, "wget", "http://192.0.2.1/x")
    s.connect(3, "192.0.2.1", 80)
    assert DETECTOR.detect(s.view()) == ()


def test_long_interval_between_contacts_with_one_destination_is_a_poll_not_a_delay() -> None:
    # a health reporter: POST, sleep 15, POST … to its status service (first contact at once)
    s = Stream()
    s.exec(1, "python3", "/app/health.py", path="/usr/bin/python3")
    for _ in range(4):
        s.connect(1, "192.0.2.9", 80)
        s.add(SleepSkipped, 1, call="clock_nanosleep", requested_seconds=15.0)
    assert DETECTOR.detect(s.view()) == ()


def test_long_wait_before_contact_with_a_new_destination_is_still_a_delay() -> None:
    s = Stream()
    s.exec(1, "python3", "/app/a.py", path="/usr/bin/python3")
    s.connect(1, "192.0.2.9", 80)
    s.add(SleepSkipped, 1, call="clock_nanosleep", requested_seconds=300.0)
    s.connect(1, "198.51.100.4", 443)
    (found,) = DETECTOR.detect(s.view())
    assert found.rule_id == "sleep-before-activity"
