from __future__ import annotations

from detonate.detect.correlations.competitor_kill import CompetitorKill
from detonate.model.events import SignalSent

from .stream import Stream

DETECTOR = CompetitorKill()


def kill(s: Stream, killer: int, victim: int, ns_pid: int, signal: str = "SIGKILL") -> None:
    s.add(SignalSent, killer, target_pid=ns_pid, signal=signal)
    s.exit(victim, signal=signal)


def test_signal_that_ends_a_renamed_miner_is_attributed_by_what_died() -> None:
    s = Stream()
    s.exec(1, "sh", "/init.sh", path="/bin/sh")
    s.spawn(1, 2, "dbused", path="/usr/sbin/dbused")  # the competitor
    s.spawn(1, 3, "nginx", path="/usr/sbin/nginx")
    s.fork(1, 4)  # a subshell running the kill builtin: its argv says nothing
    kill(s, 4, 2, ns_pid=7)
    (found,) = DETECTOR.detect(s.view())
    assert found.rule_id == "kill-competing-miners"
    assert "dbused" in found.evidence[0].description


def test_pkill_by_miner_name_counts_even_when_pkill_is_missing() -> None:
    s = Stream()
    s.exec(1, "sh", "/init.sh", path="/bin/sh")
    s.fork(1, 2)
    s.exec(2, "pkill", "-9", "-f", "xmr-stak", path="/usr/bin/pkill", ok=False)
    assert [f.rule_id for f in DETECTOR.detect(s.view())] == ["kill-competing-miners"]


def test_many_foreign_processes_killed_is_a_mass_kill() -> None:
    s = Stream()
    s.exec(1, "sh", "/init.sh", path="/bin/sh")
    for pid in (2, 3, 4, 5):
        s.spawn(1, pid, "worker", path=f"/opt/w{pid}")
    s.fork(1, 9)
    for pid in (2, 3, 4, 5):
        kill(s, 9, pid, ns_pid=pid + 10, signal="SIGTERM")
    assert [f.rule_id for f in DETECTOR.detect(s.view())] == ["mass-process-kill"]


def test_timeout_ending_its_own_child_and_probe_signals_are_not_kills() -> None:
    # `timeout 5 httpd`: kill(1, 0) probes, then SIGTERM to its own child
    s = Stream()
    s.exec(1, "timeout", "5", "httpd", path="/bin/busybox")
    s.spawn(1, 2, "httpd", "-f", path="/bin/busybox")
    for _ in range(5):
        s.add(SignalSent, 1, target_pid=2, signal="0")
    kill(s, 1, 2, ns_pid=2, signal="SIGTERM")
    assert DETECTOR.detect(s.view()) == ()


def test_translated_target_pid_names_the_victim_even_when_another_process_died_first() -> None:
    # the tracer translated kill(7, SIGKILL) to host pid 2 (xmrig); nginx (3) crashed just
    # before with the same signal — the time match alone would have blamed nginx
    s = Stream()
    s.exec(1, "sh", "/init.sh", path="/bin/sh")
    s.spawn(1, 2, "xmrig", path="/opt/xmrig")
    s.spawn(1, 3, "nginx", path="/usr/sbin/nginx")
    s.fork(1, 4)
    s.add(SignalSent, 4, target_pid=7, signal="SIGKILL", target_host_pid=2)
    s.exit(3, signal="SIGKILL")
    s.exit(2, signal="SIGKILL")
    (found,) = DETECTOR.detect(s.view())
    assert found.rule_id == "kill-competing-miners"
    assert [e.description for e in found.evidence] == ["SIGKILL ended xmrig (pid 2)"]


def test_translated_signal_to_a_non_miner_is_not_a_competitor_kill() -> None:
    # kill -9 of nginx (translated); a miner-named process dying on its own does not count
    s = Stream()
    s.exec(1, "sh", "/init.sh", path="/bin/sh")
    s.spawn(1, 2, "nginx", path="/usr/sbin/nginx")
    s.spawn(1, 3, "kdevtmpfsi", path="/tmp/kdevtmpfsi")
    s.fork(1, 4)
    s.add(SignalSent, 4, target_pid=5, signal="SIGKILL", target_host_pid=2)
    s.exit(3, signal="SIGKILL")
    assert DETECTOR.detect(s.view()) == ()
