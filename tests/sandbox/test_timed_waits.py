"""Timed waits (reported from recorded traces; compressed by the time keeper in real runs),
renames by prctl(PR_SET_NAME), and the content hash of what an exec ran.

Offline over strace lines in the shape strace writes them, then real runs in the sandbox.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import pytest

from detonate.model.events import (
    FileOpenedForWrite,
    PrivilegedAttempt,
    ProcessExecuted,
    ProcessRenamed,
    SleepSkipped,
    WaitPending,
    WaitTimedOut,
)
from detonate.model.filesystem import Rootfs
from detonate.model.runtime import EndReason, RunResult
from detonate.sandbox.run import detonate
from detonate.sandbox.tracing.interface import TraceSummary
from detonate.sandbox.tracing.programs import ProgramResolver
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter
from detonate.sandbox.tracing.strace.tracer import StraceTracer

from .busybox_image import BUSYBOX, FAST, PROGRESS, image_running

T0 = 1795818000.0
WAITS = f"""\
100 {T0 + 0.1:.6f} execve("/bin/sh", ["sh", "-c", "read -t 600 x"], 0x7ffd /* 3 vars */) = 0
100 {T0 + 0.2:.6f} prctl(PR_SET_NAME, "kworker/0:1") = 0
100 {T0 + 0.3:.6f} poll([{{fd=0</tmp/ff>, events=POLLIN}}], 1, 9000) = 0 (Timeout)
100 {T0 + 9.3:.6f} poll([{{fd=0</tmp/ff>, events=POLLIN}}], 1, 500) = 0 (Timeout)
100 {T0 + 9.8:.6f} pselect6(0, NULL, NULL, NULL, {{tv_sec=2, tv_nsec=500000000}}, NULL) = 1
100 {T0 + 9.9:.6f} select(4, [3], NULL, NULL, {{tv_sec=3, tv_usec=0}}) = 0 (Timeout)
100 {T0 + 12.9:.6f} epoll_wait(3<anon_inode:[eventpoll]>, [], 1023, -1) = 0
100 {T0 + 13.0:.6f} epoll_wait(3<anon_inode:[eventpoll]>, [], 1023, 1100) = 0
100 {T0 + 14.0:.6f} ppoll([{{fd=0, events=POLLIN}}], 1, {{tv_sec=600, tv_nsec=0}}, NULL, 8 <unfinished ...>
101 {T0 + 14.5:.6f} +++ exited with 0 +++
"""  # noqa: E501


def interpret(text: str) -> TraceSummary:
    interpreter = TraceInterpreter(init_pid=100, t0=T0, sleep_floor=0.2, init_exe="/bin/sh")
    interpreter.feed_lines(text.splitlines(keepends=True))
    return interpreter.summary()


def test_timed_waits_of_a_second_or_more_are_reported_when_they_expire_or_are_left_pending() -> (
    None
):
    summary = interpret(WAITS)
    timed_out = [
        (e.call, e.requested_seconds) for e in summary.events if isinstance(e, WaitTimedOut)
    ]
    assert timed_out == [("poll", 9.0), ("select", 3.0), ("epoll_wait", 1.1)]
    (pending,) = [e for e in summary.events if isinstance(e, WaitPending)]
    assert (pending.call, pending.requested_seconds, pending.ts) == ("ppoll", 600.0, 14.0)
    assert pending.argv == ("sh", "-c", "read -t 600 x")


def test_prctl_set_name_is_a_rename_event_and_kept_in_the_process_table() -> None:
    summary = interpret(WAITS)
    (renamed,) = [e for e in summary.events if isinstance(e, ProcessRenamed)]
    assert renamed.name == "kworker/0:1" and renamed.exe == "/bin/sh"
    (init,) = [p for p in summary.processes if p.pid == 100]
    assert init.names == ("kworker/0:1",)


def test_strace_neither_injects_nor_traces_sleeps_and_timed_waits(tmp_path: Path) -> None:
    """They are the time keeper's: trapped by seccomp, compressed and reported by it."""
    command = StraceTracer(tmp_path / "t").command(1)
    assert not [part for part in command if part.startswith("inject=")]
    traced = next(part for part in command if part.startswith("trace="))
    for call in ("nanosleep", "clock_nanosleep", "poll", "epoll_wait", "pselect6"):
        assert call not in traced.removeprefix("trace=").split(",")


def test_exec_of_a_renamed_busybox_copy_carries_its_resolved_path_and_hash(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "tmp/.X0-unix").mkdir(parents=True)
    (tmp_path / "usr/lib/libxz.so.5").write_bytes(b"\x7fELF-busybox-copy")
    (tmp_path / "tmp/.X0-unix/wget").symlink_to("/usr/lib/libxz.so.5")
    interpreter = TraceInterpreter(init_pid=100, t0=T0, init_exe="/bin/sh", rootfs=tmp_path)
    line = f'100 {T0:.6f} execve("/tmp/.X0-unix/wget", ["wget", "-q"], 0x1 /* 1 var */) = 0\n'
    interpreter.feed_lines([line])
    summary = interpreter.summary()
    (executed,) = [e for e in summary.events if isinstance(e, ProcessExecuted)]
    assert executed.exe_resolved == "/usr/lib/libxz.so.5"
    assert executed.exe_sha256 == hashlib.sha256(b"\x7fELF-busybox-copy").hexdigest()
    assert summary.processes[0].exe_sha256 == executed.exe_sha256
    assert ProgramResolver(tmp_path).sha256("/missing") == ""


def run(rootfs: Rootfs, tmp_path: Path, script: str, **limits: object) -> RunResult:
    options = dataclasses.replace(FAST, **limits)
    return detonate(image_running("/bin/sh", "-c", script), rootfs, options, tmp_path, PROGRESS)


@pytest.mark.sandbox
def test_read_timeouts_are_compressed_and_what_follows_them_shows(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    script = "mkfifo /tmp/ff; exec 3<>/tmp/ff; read -t 4 x <&3; echo after-wait; read -t 600 y <&3"
    result = run(busybox_rootfs, tmp_path, script, idle_seconds=2, timeout_seconds=30)
    timed_out = [e for e in result.events if isinstance(e, WaitTimedOut)]
    assert [(e.call, e.requested_seconds) for e in timed_out] == [("poll", 4.0), ("poll", 600.0)]
    assert result.artifacts_dir is not None
    assert b"after-wait" in (result.artifacts_dir.parent / "output.log").read_bytes()
    assert timed_out[1].argv[0] == "/bin/sh" and timed_out[1].skipped_seconds > 590
    # far below the 604 s of waits, with room for a busy machine
    assert result.run.ended_by == EndReason.EXITED and result.run.duration_seconds < 30


@pytest.mark.sandbox
def test_a_delay_of_many_one_second_sleeps_in_one_process_is_skipped_whole(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    # busybox `timeout 40` sleeps one second 40 times in one process (cat blocks on the FIFO)
    script = "mkfifo /tmp/ff; timeout 40 cat /tmp/ff; echo after-timeout"
    started = time.monotonic()
    result = run(busybox_rootfs, tmp_path, script, timeout_seconds=30)
    # below the 40 s of sleeps even with set-up on a busy machine; the run's own 30 s timeout
    # would end an uncompressed countdown (ended_by is asserted)
    assert time.monotonic() - started < 38
    assert result.run.ended_by == EndReason.EXITED
    assert sum(isinstance(e, SleepSkipped) for e in result.events) >= 39


@pytest.mark.sandbox
def test_a_renamed_busybox_copy_has_the_hash_of_busybox_and_noexec_applets_are_named(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    script = (
        "cp /bin/busybox /tmp/libxz.so.5; ln -s /tmp/libxz.so.5 /tmp/wget; /tmp/wget --help;"
        " xxd /etc/motd > /dev/null"
    )
    result = run(busybox_rootfs, tmp_path, script)
    renamed = [e for e in result.events if isinstance(e, ProcessRenamed) and e.name == "xxd"]
    assert renamed and renamed[0].multi_call  # a NOEXEC applet: a forked child, no exec
    (copy,) = [e for e in result.events if isinstance(e, ProcessExecuted) and e.path == "/tmp/wget"]
    assert copy.exe_resolved == "/tmp/libxz.so.5"
    assert copy.exe_sha256 == hashlib.sha256(BUSYBOX.read_bytes()).hexdigest()


def test_writes_through_a_symlink_name_the_opened_file_and_device_nodes_are_privileged() -> None:
    lines = (
        f'100 {T0:.6f} execve("/bin/sh", ["sh", "/x"], 0x1 /* 1 var */) = 0\n'
        f'100 {T0:.6f} openat(AT_FDCWD</>, "/tmp/.k/authorized_keys", O_WRONLY|O_CREAT|O_APPEND,'
        " 0666) = 3</root/.ssh/authorized_keys>\n"
        f'100 {T0:.6f} mknodat(AT_FDCWD</>, "/tmp/d", S_IFBLK|0600, makedev(0x8, 0x1))'
        " = -1 EPERM (Operation not permitted)\n"
    )
    events = interpret(lines).events
    (write,) = [e for e in events if isinstance(e, FileOpenedForWrite)]
    assert (write.path, write.requested_path) == (
        "/root/.ssh/authorized_keys",
        "/tmp/.k/authorized_keys",
    )
    (node,) = [e for e in events if isinstance(e, PrivilegedAttempt)]
    assert (node.call, node.succeeded) == ("mknodat", False)
    assert "S_IFBLK" in node.args
