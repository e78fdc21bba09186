"""The interpreter over REAL strace output captured in the sandbox (tests/sandbox/corpus)."""

from __future__ import annotations

import json
from pathlib import Path

from detonate.model.events import (
    FileCreated,
    FileDeleted,
    FileModeChanged,
    FileOpenedForWrite,
    FileRenamed,
    NetworkConnected,
    PrivilegedAttempt,
    ProcessExecuted,
    ProcessExited,
    ProcessForked,
    SignalSent,
    SleepSkipped,
)
from detonate.sandbox.tracing.interface import TraceSummary
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

CORPUS = Path(__file__).parent / "corpus"


def interpret(name: str) -> TraceSummary:
    meta = json.loads((CORPUS / f"{name}.json").read_text())
    interpreter = TraceInterpreter(init_pid=meta["init_pid"], t0=meta["t0"], sleep_floor=0.2)
    with open(CORPUS / f"{name}.strace") as lines:
        interpreter.feed_lines(lines)
    return interpreter.summary()


def of(summary: TraceSummary, cls: type) -> list:
    return [e for e in summary.events if isinstance(e, cls)]


def test_every_corpus_line_parses_and_runc_setup_is_not_reported() -> None:
    for trace in CORPUS.glob("*.strace"):
        summary = interpret(trace.stem)
        assert summary.parse_errors == 0, (trace.name, summary.unparsed_samples)
        assert summary.runtime_setup_lines > 0
        assert not any("exec.fifo" in str(e) for e in summary.events)
        first = summary.events[0]
        assert isinstance(first, ProcessExecuted) and first.path == "/bin/sh"
        assert [e.seq for e in summary.events] == list(range(len(summary.events)))


def test_delayed_payload_sleep_is_skipped_and_the_dropped_script_runs() -> None:
    summary = interpret("delayed_payload")
    (sleep,) = of(summary, SleepSkipped)
    assert sleep.requested_seconds == 600 and sleep.argv == ("sleep", "600")
    assert summary.skipped_sleep_seconds > 599
    writes = [e.path for e in of(summary, FileOpenedForWrite)]
    assert "/tmp/payload.sh" in writes
    assert "/tmp/payload.sh" in summary.executed_paths
    assert summary.init_exit_code == 0


def test_process_tree_has_parents_exit_codes_failures_signals_and_applets() -> None:
    summary = interpret("process_tree")
    procs = {p.pid: p for p in summary.processes}
    init = next(p for p in summary.processes if p.ppid == 0)
    assert init.exe == "/bin/sh" and init.exit_code == 3
    assert all(p.ppid == init.pid or p.pid == init.pid for p in summary.processes)
    assert all(p.chain[0] == init.pid and p.chain[-1] == p.pid for p in summary.processes)
    failed = [e for e in of(summary, ProcessExecuted) if not e.succeeded]
    assert {(e.path, e.error) for e in failed} >= {("/nonexistent/tool", "ENOENT")}
    assert any(e.error == "ENOEXEC" and e.path == "/tmp/ns" for e in failed)
    applets = {p.applet for p in procs.values()}
    assert {"true", "sh", "ash"} <= applets
    # busybox re-execs itself as /proc/self/exe: resolved to the binary that was running
    assert not any(p.exe == "/proc/self/exe" for p in procs.values())
    codes = {e.exit_code for e in of(summary, ProcessExited)}
    assert {3, 4, 127} <= codes
    (kill,) = of(summary, SignalSent)
    assert kill.signal == "SIGKILL" and kill.succeeded
    assert len(of(summary, ProcessForked)) >= 5


def test_file_operations_resolve_relative_paths_against_the_cwd() -> None:
    summary = interpret("file_operations")
    renamed = of(summary, FileRenamed)
    assert [(e.path, e.new_path) for e in renamed] == [("/tmp/d/e/f", "/tmp/d/e/g")]
    created = {(e.path, e.file_type, e.target) for e in of(summary, FileCreated)}
    assert ("/tmp/lnk", "symlink", "/etc/passwd") in created
    assert ("/tmp/hard", "hardlink", "/tmp/d/e/g") in created
    assert ("/tmp/d/e", "dir", "") in created
    chmod = of(summary, FileModeChanged)
    assert [(e.path, e.mode) for e in chmod] == [("/tmp/d/e/g", 0o600)]
    deleted = {e.path for e in of(summary, FileDeleted)}
    assert {"/tmp/d/e/g", "/etc/passwd"} <= deleted
    writes = {e.path: e for e in of(summary, FileOpenedForWrite)}
    assert writes["/var/log/new.log"].created and "O_APPEND" in writes["/etc/motd"].flags
    assert writes["/etc/motd"].append and not writes["/etc/motd"].truncated
    assert not writes["/var/log/new.log"].append


def test_network_attempts_keep_destination_and_failure() -> None:
    summary = interpret("network")
    connects = {(e.address, e.port, e.error) for e in of(summary, NetworkConnected)}
    assert ("192.0.2.10", 3333, "ENETUNREACH") in connects
    assert any(e.address == "127.0.0.1" and e.port == 8080 for e in of(summary, NetworkConnected))


def test_privileged_attempts_are_events_even_when_blocked() -> None:
    summary = interpret("privileged")
    attempts = of(summary, PrivilegedAttempt)
    calls = {(e.call, e.succeeded) for e in attempts}
    assert ("mount", False) in calls and ("unshare", False) in calls
    writes = {e.args for e in attempts if e.call == "write"}
    assert {"/proc/sysrq-trigger", "/sys/fs/cgroup/release_agent"} <= writes
    assert not any(e.succeeded for e in attempts)
    # the typed fields rules read, decoded from strace's text
    mounts = {(e.source, e.path, e.fstype, e.flags) for e in attempts if e.call == "mount"}
    assert ("/dev/vda", "/mnt/x", "ext4", ("MS_SILENT",)) in mounts
    assert ("cgroup", "/mnt/x", "cgroup", ("MS_SILENT",)) in mounts
    assert [e.flags for e in attempts if e.call == "unshare"] == [("CLONE_NEWUSER",)]
    assert {e.path for e in attempts if e.call == "write"} == writes


def test_reading_the_file_in_two_passes_gives_the_same_summary() -> None:
    # feed_file never holds the trace's records (a trace-size bomb); it must not change them.
    for trace in CORPUS.glob("*.strace"):
        meta = json.loads((CORPUS / f"{trace.stem}.json").read_text())
        streamed = TraceInterpreter(init_pid=meta["init_pid"], t0=meta["t0"], sleep_floor=0.2)
        streamed.feed_file(trace)
        assert streamed.summary() == interpret(trace.stem), trace.name
