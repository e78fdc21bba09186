"""Pipelines and kills on a real trace with fds and translated pids: the strace output of
scenarios.PIPES_AND_SIGNALS (tests/sandbox/corpus), interpreted offline."""

from __future__ import annotations

from pathlib import Path

from detonate.detect.correlations.competitor_kill import _victims
from detonate.detect.correlations.decode_to_shell import DecodeToShell
from detonate.detect.correlations.pipelines import Consumer, consumers
from detonate.detect.correlations.run_index import RunIndex
from detonate.detect.interface import RunView
from detonate.model.events import ProcessExecuted, SignalSent
from sandbox.test_fd_plumbing import fake_rootfs, interpret


def corpus_run(tmp_path: Path) -> RunView:
    summary = interpret(fake_rootfs(tmp_path / "rootfs"))
    return RunView(events=summary.events, processes=summary.processes)


def test_decoder_pipe_is_matched_to_the_shell_reading_it(tmp_path: Path) -> None:
    # echo ZWNobyBkZWNvZGVkLXJhbgo= | base64 -d | sh
    run = corpus_run(tmp_path)
    execs = [e for e in run.events if isinstance(e, ProcessExecuted) and e.succeeded]
    (decoder,) = [e for e in execs if e.argv == ("base64", "-d")]
    (shell,) = [e for e in execs if e.argv == ("sh",)]
    assert decoder.stdout.startswith("pipe:[")
    assert consumers(RunIndex(run), decoder.pid) == [Consumer(shell.pid, "pipe")]
    stage = next(f for f in DecodeToShell().detect(run) if f.rule_id == "decode-to-shell")
    assert "(pipe)" in stage.evidence[0].description
    assert stage.evidence[-1].excerpt == "echo decoded-ran"


def test_sibling_kill_names_its_victim_by_host_pid(tmp_path: Path) -> None:
    # yes > /dev/null & sh -c "kill $!": the kill's victim is the `yes` sibling
    run = corpus_run(tmp_path)
    (kill,) = [e for e in run.events if isinstance(e, SignalSent)]
    victim = run.process(kill.target_host_pid)
    assert victim is not None and victim.signal == "SIGTERM"
    assert _victims(RunIndex(run)) == [(kill, victim.pid)]
