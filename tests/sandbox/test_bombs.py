"""Resource bombs from inside the sandbox (issue 14, item 2): each a harmless stand-in that
runs into one limit. For each: the run ends, the report says which limit was hit
(`run.limits_hit`) and how the run ended, and nothing of it is left on the host. (The fork,
memory, disk and CPU bombs are in test_containment.py.) The host's
responsiveness and the analyser's peak memory during each are measured by
benchmarks/bombs.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from detonate.model.events import PrivilegedAttempt, ProcessExecuted
from detonate.model.filesystem import Rootfs
from detonate.model.options import MiB
from detonate.model.runtime import EndReason, RunResult
from detonate.sandbox import run as sandbox_run
from detonate.sandbox.tracing.strace import tracer as strace_tracer

from . import scenarios
from .busybox_image import FAST, PROGRESS, image_running
from .test_containment import assert_nothing_left

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def run(rootfs: Rootfs, tmp_path: Path, *args: str, **limits: object) -> RunResult:
    options = dataclasses.replace(FAST, **limits)
    return sandbox_run.detonate(image_running(*args), rootfs, options, tmp_path, PROGRESS)


def output(result: RunResult) -> bytes:
    assert result.artifacts_dir is not None
    return (result.artifacts_dir.parent / "output.log").read_bytes()


def test_inode_flood_stops_at_the_inode_limit(standin_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(standin_rootfs, tmp_path, "/bin/sh", "-c", scenarios.INODE_FLOOD,
                 disk_bytes=8 * MiB)  # fmt: skip
    assert result.run.ended_by == EndReason.EXITED
    made = int(output(result).split(b"files=")[1].split()[0])
    assert 900 < made < 1024  # 1024 inodes for an 8 MiB layer, a few taken by setup
    assert "inodes" in result.run.limits_hit
    assert_nothing_left(result)


def test_log_flood_is_cut_at_the_log_size(standin_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(standin_rootfs, tmp_path, "/bin/sh", "-c", scenarios.LOG_FLOOD, timeout_seconds=4)
    assert result.run.ended_by == EndReason.TIMEOUT
    assert "output" in result.run.limits_hit
    log = output(result)
    assert len(log) <= sandbox_run.OUTPUT_CAP_BYTES
    assert b"stdout-flood-line" in log
    assert_nothing_left(result)


def test_fd_exhaustion_stops_at_the_nofile_limit(standin_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(standin_rootfs, tmp_path, "/bin/fd_exhaustion")
    text = output(result).decode()
    assert "fds opened=1021 then Too many open files" in text  # soft limit 1024, 0-2 in use
    assert "raise nofile to 1048576: Operation not permitted" in text
    assert_nothing_left(result)


def test_trace_flood_ends_the_run_at_the_trace_cap(
    standin_rootfs: Rootfs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real cap is 512 MiB; the mechanism is the same at 8.
    monkeypatch.setattr(strace_tracer, "TRACE_CAP_BYTES", 8 * MiB)
    result = run(
        standin_rootfs, tmp_path, "/bin/sh", "-c", scenarios.TRACE_FLOOD, timeout_seconds=60
    )
    assert result.run.ended_by == EndReason.TRACE_LIMIT
    assert result.run.duration_seconds < 60
    assert result.run.events > 10_000
    assert_nothing_left(result)


def test_huge_argv_and_environment_are_traced_whole(standin_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(standin_rootfs, tmp_path, "/bin/sh", "-c", scenarios.HUGE_ARGV)
    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    assert b"argc=100000" in output(result)
    assert result.run.parse_errors == 0
    (big,) = [e for e in result.events if isinstance(e, ProcessExecuted) and len(e.argv) > 1000]
    assert big.argv[:3] == ("busybox", "true", "abcdefghij")
    assert_nothing_left(result)


def test_a_process_ignoring_sigterm_is_killed_at_the_timeout(
    standin_rootfs: Rootfs, tmp_path: Path
) -> None:
    result = run(
        standin_rootfs, tmp_path, "/bin/sh", "-c", scenarios.TERM_IGNORER, timeout_seconds=3
    )
    assert result.run.ended_by == EndReason.TIMEOUT
    assert result.run.duration_seconds < 5
    (shell,) = [p for p in result.processes if p.ppid == 0 or p.chain[:1] == (p.pid,)][:1]
    assert shell.signal == "SIGKILL"
    assert_nothing_left(result)


def test_a_zombie_army_is_reaped_with_the_container(standin_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(standin_rootfs, tmp_path, "/bin/sh", "-c", scenarios.ZOMBIE_ARMY)
    assert result.run.ended_by == EndReason.IDLE
    exited = [p for p in result.processes if p.end is not None and p.exit_code == 0]
    assert len(exited) >= 100  # the army, each exited, none reaped by its parent
    assert_nothing_left(result)


def test_ptrace_and_proc_mem_games_against_its_own_children(
    standin_rootfs: Rootfs, tmp_path: Path
) -> None:
    result = run(standin_rootfs, tmp_path, "/bin/ptrace_games")
    text = output(result).decode()
    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    # ptrace is refused by the seccomp profile: an anti-debugging check fails as under one.
    assert "ptrace attach own child: Operation not permitted" in text
    assert "ptrace traceme: Operation not permitted" in text
    ptraces = [e for e in result.events if isinstance(e, PrivilegedAttempt) and e.call == "ptrace"]
    assert len(ptraces) >= 2 and not any(e.succeeded for e in ptraces)
    assert "secret is " in text  # /proc/self/mem is the process's own business
    assert_nothing_left(result)
