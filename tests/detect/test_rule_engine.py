"""The runtime rule engine: event subjects, matching, evidence, and the rule files it loads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from detect.event_builder import events_from_data
from detonate.detect.event_subjects import event_subjects
from detonate.detect.interface import RunView
from detonate.detect.rule_engine import MAX_EVIDENCE, RuleEngine
from detonate.errors import RuleError
from detonate.model.findings import Finding
from detonate.model.runtime import ChangeKind, ContentType, FileChange

ENGINE = RuleEngine.load()


def run_of(*items: Mapping[str, object], files: tuple[FileChange, ...] = ()) -> RunView:
    return RunView(events=events_from_data(list(items)), files=files)


def findings_by_id(run: RunView) -> dict[str, Finding]:
    return {f.rule_id: f for f in ENGINE.detect(run)}


def test_actor_is_the_program_the_pid_ran_at_the_time() -> None:
    run = run_of(
        {"kind": "process.exec", "pid": 1, "path": "/bin/sh", "argv": ["sh", "/init.sh"]},
        {"kind": "process.fork", "pid": 1, "child_pid": 2},
        {"kind": "process.exec", "pid": 2, "ppid": 1, "path": "/usr/bin/wget", "argv": ["wget"]},
        {"kind": "file.write", "pid": 2, "ppid": 1, "path": "/tmp/x", "flags": "O_WRONLY"},
        {"kind": "process.exec", "pid": 2, "ppid": 1, "path": "/tmp/x", "argv": ["/tmp/x"]},
        {"kind": "net.connect", "pid": 2, "ppid": 1, "address": "192.0.2.1", "port": 80},
    )
    subjects = list(event_subjects(run))
    write = next(s for s in subjects if s.name == "file_change")
    connect = next(s for s in subjects if s.name == "connect")
    assert (write.get("process"), write.get("parent"), write.get("ancestors")) == (
        "wget",
        "sh",
        ("sh",),
    )
    assert connect.get("process") == "x"
    assert connect.chain == ("sh /init.sh", "/tmp/x")


def test_busybox_applets_are_named_by_the_applet_not_by_proc_self_exe() -> None:
    run = run_of(
        {
            "kind": "process.exec",
            "path": "/proc/self/exe",
            "exe": "/bin/busybox",
            "applet": "wget",
            "argv": ["wget", "-q", "http://192.0.2.1/p.sh"],
        }
    )
    (subject,) = event_subjects(run)
    assert (subject.get("name"), subject.get("renamed"), subject.get("fileless")) == (
        "wget",
        False,
        False,
    )


def test_a_copy_run_under_a_false_argv0_is_renamed_and_kernel_thread_names_stay_whole() -> None:
    run = run_of(
        {"kind": "process.exec", "path": "/usr/lib/.cache/ntpupd", "argv": ["wget", "-q"]},
        {"kind": "process.exec", "path": "/tmp/k", "argv": ["[kworker/0:1]"]},
    )
    first, second = event_subjects(run)
    assert (first.get("renamed"), first.get("argv0")) == (True, "wget")
    assert second.get("argv0") == "[kworker/0:1]"


def test_connect_gets_the_name_and_protocol_the_simulator_saw_on_that_flow() -> None:
    run = run_of(
        {"kind": "net.connect", "pid": 5, "address": "198.18.0.1", "port": 3333},
        {"kind": "net.connect", "pid": 6, "address": "198.18.0.1", "port": 3333},
        {"kind": "connected", "pid": 0, "dst_ip": "198.18.0.1", "dst_port": 3333,
         "domain": "pool.test", "protocol": "stratum"},
        {"kind": "connected", "pid": 0, "dst_ip": "198.18.0.1", "dst_port": 3333,
         "domain": "other.test", "protocol": "raw"},
    )  # fmt: skip
    first, second = [s for s in event_subjects(run) if s.name == "connect"]
    assert (first.get("domain"), first.get("protocol")) == ("pool.test", "stratum")
    assert (second.get("domain"), second.get("protocol")) == ("other.test", "raw")
    assert first.destination == "pool.test:3333 (198.18.0.1)"


def test_exec_of_a_file_written_in_the_run_is_created_in_run_only_after_the_write() -> None:
    run = run_of(
        {"kind": "process.exec", "path": "/opt/tool", "argv": ["/opt/tool"]},
        {"kind": "file.write", "path": "/opt/tool", "flags": "O_WRONLY|O_TRUNC"},
        {"kind": "process.exec", "path": "/opt/tool", "argv": ["/opt/tool"]},
    )
    execs = [s.get("created_in_run") for s in event_subjects(run) if s.name == "exec"]
    assert execs == [False, True]


def test_exec_provenance_says_where_the_bytes_of_a_written_file_came_from() -> None:
    run = run_of(
        {"kind": "process.exec", "pid": 1, "path": "/bin/sh", "argv": ["sh", "/entry"]},
        {"kind": "file.write", "pid": 1, "path": "/tmp/own", "flags": "O_WRONLY|O_TRUNC"},
        {"kind": "data.write", "pid": 1, "path": "/tmp/own", "fd": 3, "bytes": 9},
        {"kind": "process.fork", "pid": 1, "child_pid": 2},
        {"kind": "process.exec", "pid": 2, "path": "/usr/bin/fetch", "argv": ["fetch"]},
        {"kind": "net.connect", "pid": 2, "family": "AF_INET", "address": "198.51.100.1",
         "port": 80},
        {"kind": "file.write", "pid": 2, "path": "/tmp/got", "flags": "O_WRONLY|O_TRUNC"},
        {"kind": "data.write", "pid": 2, "path": "/tmp/got", "fd": 3, "bytes": 9},
        {"kind": "process.exec", "pid": 3, "path": "/tmp/own", "argv": ["/tmp/own"]},
        {"kind": "process.exec", "pid": 4, "path": "/tmp/got", "argv": ["/tmp/got"]},
    )  # fmt: skip
    execs = [s.get("provenance") for s in event_subjects(run) if s.name == "exec"]
    # the image's own programs: nothing to say; the shell's file: local; the fetch: network
    assert execs == ["", "", "local", "network"]


def test_failed_attempts_are_findings_and_say_they_failed() -> None:
    run = run_of(
        {"kind": "privileged", "call": "finit_module", "args": "3</x.ko>, \"\", 0",
         "succeeded": False, "error": "EPERM"},
    )  # fmt: skip
    finding = findings_by_id(run)["privileged-kernel-module-load"]
    assert finding.evidence[0].description.endswith("(failed: EPERM)")
    assert finding.evidence[0].event_ids == (0,)


def test_one_finding_per_rule_with_repeats_folded_and_evidence_capped() -> None:
    repeated = [{"kind": "net.connect", "address": "/var/run/docker.sock", "family": "AF_UNIX"}] * 3
    many = [
        {"kind": "process.exec", "path": f"/tmp/p{n}", "argv": [f"/tmp/p{n}"]}
        for n in range(MAX_EVIDENCE + 5)
    ]
    found = findings_by_id(run_of(*repeated, *many))
    socket = found["connect-container-runtime-socket"]
    volatile = found["exec-from-volatile-dir"]
    assert [e.path for e in socket.evidence] == ["/var/run/docker.sock", ""]
    assert socket.evidence[-1].description == "… and 2 more events matched this rule"
    assert len(volatile.evidence) == MAX_EVIDENCE + 1
    assert volatile.evidence[-1].description == "… and 5 more events matched this rule"


def test_evidence_carries_the_hash_of_the_file_from_the_run_diff() -> None:
    change = FileChange(
        "/tmp/.sysd", ChangeKind.CREATED, ContentType.ELF, sha256="ab" * 32, executed=True
    )
    run = run_of({"kind": "process.exec", "path": "/tmp/.sysd", "argv": ["/tmp/.sysd"]},
                 files=(change,))  # fmt: skip
    evidence = findings_by_id(run)["exec-dropped-file"].evidence[0]
    assert (evidence.path, evidence.sha256) == ("/tmp/.sysd", "ab" * 32)


def test_unless_vetoes_a_match() -> None:
    run = run_of(
        {
            "kind": "file.write",
            "path": "/var/log/wtmp",
            "flags": "O_WRONLY|O_APPEND",
            "append": True,
        },
        {
            "kind": "file.write",
            "path": "/var/log/auth.log",
            "flags": "O_WRONLY|O_TRUNC",
            "truncated": True,
        },
    )
    evidence = findings_by_id(run)["file-system-log-wipe"].evidence
    assert [e.path for e in evidence] == ["/var/log/auth.log"]


def test_regex_match_is_the_evidence_excerpt() -> None:
    run = run_of({"kind": "process.exec", "path": "/usr/sbin/ufw", "argv": ["ufw", "disable"]})
    assert findings_by_id(run)["exec-firewall-disable"].evidence[0].excerpt == "disable"


def test_every_builtin_runtime_rule_matches_an_event_subject() -> None:
    assert ENGINE.rules
    assert all(rule.subject != "file" for rule in ENGINE.rules)


def test_user_rules_load_beside_the_builtin_ones(tmp_path: Path) -> None:
    (tmp_path / "exec-from-opt-evil.yaml").write_text(
        "title: t\nwhy: w\nseverity: low\nconfidence: low\ncategory: weaponization\n"
        "technique: T1059\nsubject: exec\nmatch:\n  path: {glob: ['/opt/evil/*']}\n"
    )
    engine = RuleEngine.load(tmp_path)
    run = run_of({"kind": "process.exec", "path": "/opt/evil/x", "argv": ["x"]})
    assert "exec-from-opt-evil" in {f.rule_id for f in engine.detect(run)}


def test_a_runtime_rule_on_a_static_subject_is_refused(tmp_path: Path) -> None:
    (tmp_path / "static-in-runtime.yaml").write_text(
        "title: t\nwhy: w\nseverity: low\nconfidence: low\ncategory: weaponization\n"
        "technique: T1059\nsubject: config\nmatch:\n  text: {regex: x}\n"
    )
    with pytest.raises(RuleError, match="runtime rules match events"):
        RuleEngine.load(tmp_path)


def test_a_multi_call_binary_run_as_its_applet_is_not_renamed() -> None:
    run = run_of(
        {"kind": "process.exec", "path": "/bin/busybox", "applet": "ssl_client",
         "argv": ["ssl_client", "-n", "pool.test"]},
    )  # fmt: skip
    (subject,) = event_subjects(run)
    assert (subject.get("name"), subject.get("renamed")) == ("ssl_client", False)


def test_a_signal_names_its_victim_when_the_tracer_translated_the_pid() -> None:
    run = run_of(
        {"kind": "process.exec", "pid": 7, "path": "/tmp/kinsing", "argv": ["/tmp/kinsing"]},
        {"kind": "signal.kill", "pid": 8, "target_pid": 3, "target_host_pid": 7,
         "signal": "SIGKILL"},
        {"kind": "signal.kill", "pid": 8, "target_pid": 4, "signal": "SIGKILL"},
    )  # fmt: skip
    targets = [s.get("target") for s in event_subjects(run) if s.name == "signal"]
    assert targets == ["kinsing", ""]


def test_a_change_of_file_times_is_a_file_change_with_its_age() -> None:
    run = run_of(
        {"kind": "process.exec", "pid": 3, "path": "/bin/touch", "argv": ["touch", "-d", "x"]},
        {"kind": "file.times", "pid": 3, "path": "/usr/lib/.x", "modify_time": 1551694920.0}
        | {"access_time": 1551694920.0, "modify_age": 245000000.4},
        {"kind": "file.times", "pid": 3, "path": "/tmp/stamp", "now": True},
    )
    dated, now = [s for s in event_subjects(run) if s.name == "file_change"]
    assert (dated.get("op"), dated.get("age"), dated.get("now")) == ("times", 245000000, False)
    assert dated.summary == "set times of /usr/lib/.x to 245000000 s before the call"
    assert (now.get("op"), now.get("age"), now.get("now")) == ("times", None, True)
    assert now.summary == "set times of /tmp/stamp to now"
