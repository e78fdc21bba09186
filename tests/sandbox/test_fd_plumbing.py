"""What fds 0/1/2 are at each exec, kill targets in host pids, and the program an exec ran.

Offline over the real strace output of scenarios.PIPES_AND_SIGNALS (tests/sandbox/corpus),
then the same scenario run for real in the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detonate.model.events import ProcessExecuted, SignalSent
from detonate.model.filesystem import Rootfs
from detonate.model.runtime import ProcessInfo, RunResult
from detonate.sandbox.run import detonate, remove_run_dir
from detonate.sandbox.tracing.interface import TraceSummary
from detonate.sandbox.tracing.programs import ProgramResolver
from detonate.sandbox.tracing.strace.fds import CONTAINER_OUTPUT
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

from . import scenarios
from .busybox_image import FAST, PROGRESS, image_running

CORPUS = Path(__file__).parent / "corpus"


def fake_rootfs(root: Path) -> Path:
    """Just what the resolver reads: busybox (never run), its sh link, the dropped script."""
    (root / "bin").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "bin" / "busybox").write_bytes(b"\x7fELF\x02\x01\x01")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "tmp" / "start.sh").write_text("#!/bin/sh\nwget -q -O /dev/null http://x.test/\n")
    return root


def interpret(rootfs: Path | None) -> TraceSummary:
    meta = json.loads((CORPUS / "pipes_and_signals.json").read_text())
    interpreter = TraceInterpreter(
        init_pid=meta["init_pid"],
        t0=meta["t0"],
        sleep_floor=0.2,
        init_exe="/bin/sh",
        init_fds={int(fd): link for fd, link in meta["init_fds"].items()},
        rootfs=rootfs,
    )
    with open(CORPUS / "pipes_and_signals.strace") as lines:
        interpreter.feed_lines(lines)
    return interpreter.summary()


def execs(events: tuple[object, ...], *argv: str) -> list[ProcessExecuted]:
    return [
        e
        for e in events
        if isinstance(e, ProcessExecuted) and e.succeeded and e.argv[: len(argv)] == argv
    ]


def check_decoder_feeds_the_shell(events: tuple[object, ...]) -> None:
    (decoder,) = execs(events, "base64", "-d")
    (shell,) = [e for e in execs(events, "sh") if e.argv == ("sh",)]  # reads the pipe
    assert decoder.stdout.startswith("pipe:[") and decoder.stdout == shell.stdin
    assert decoder.stdin.startswith("pipe:[") and decoder.stdin != decoder.stdout
    assert shell.stdout == CONTAINER_OUTPUT and shell.pid != decoder.pid


def check_sibling_kill(events: tuple[object, ...], processes: tuple[ProcessInfo, ...]) -> None:
    (kill,) = [e for e in events if isinstance(e, SignalSent)]
    procs = {p.pid: p for p in processes}
    victim = procs[kill.target_host_pid]
    assert kill.signal == "SIGTERM" and kill.succeeded
    assert kill.argv[:2] == ("sh", "-c") and kill.target_pid != kill.target_host_pid
    assert victim.signal == "SIGTERM" and victim.ppid == procs[kill.pid].ppid != 0


def check_socket_shell(events: tuple[object, ...]) -> None:
    # exec'd by `nc -l -e /bin/sh` on the accepted socket
    (shell,) = [e for e in execs(events, "/bin/sh") if e.argv == ("/bin/sh",)]
    assert shell.stdin.startswith("socket:TCPv6:[") and "->" in shell.stdin
    assert shell.stdout == shell.stdin and shell.stderr == CONTAINER_OUTPUT


def test_pipes_sockets_and_kills_are_followed_in_the_corpus() -> None:
    summary = interpret(None)
    check_decoder_feeds_the_shell(summary.events)
    check_sibling_kill(summary.events, summary.processes)
    check_socket_shell(summary.events)
    first = summary.events[0]
    assert isinstance(first, ProcessExecuted)
    assert (first.stdin, first.stdout, first.stderr) == ("/dev/null", *(CONTAINER_OUTPUT,) * 2)
    # the forked subshell running the builtin `echo` never exec'd: its stdout is the first pipe
    (decoder,) = execs(summary.events, "base64", "-d")
    writer = [p for p in summary.processes if p.stdout == decoder.stdin and p.pid != decoder.pid]
    assert writer and writer[0].argv[:2] == ("/bin/sh", "-c")
    assert "/run/detonate" not in repr(summary.events) + repr(summary.processes)


def test_a_scripts_applets_get_the_binary_behind_proc_self_exe(tmp_path: Path) -> None:
    summary = interpret(fake_rootfs(tmp_path / "rootfs"))
    (script,) = execs(summary.events, "/tmp/start.sh")
    (wget,) = execs(summary.events, "wget")
    assert (script.exe, script.applet) == ("/tmp/start.sh", "")
    assert (wget.path, wget.exe, wget.applet) == ("/proc/self/exe", "/bin/busybox", "wget")
    (decoder,) = execs(summary.events, "base64", "-d")
    assert (decoder.exe, decoder.applet) == ("/bin/busybox", "base64")
    first = summary.events[0]
    assert isinstance(first, ProcessExecuted) and (first.exe, first.applet) == ("/bin/sh", "sh")


# Formats as strace 6.1 prints them (-f -ttt -yy --pidns-translation).
TRACE = """\
300 3000.1 execve("/bin/sh", ["sh"], 0x1 /* 1 var */) = 0
300 3000.2 pipe2([3<pipe:[50]>, 4<pipe:[50]>], O_CLOEXEC) = 0
300 3000.3 dup2(4<pipe:[50]>, 1</dev/null<char 1:3>>) = 1<pipe:[50]>
300 3000.4 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, \
[5<UNIX-STREAM:[60->61]>, 6<UNIX-STREAM:[61->60]>]) = 0
300 3000.5 dup2(5<UNIX-STREAM:[60->61]>, 0</dev/null<char 1:3>>) = 0<UNIX-STREAM:[60->61]>
300 3000.6 dup3(3<pipe:[50]>, 2</dev/null<char 1:3>>, O_CLOEXEC) = 2<pipe:[50]>
300 3000.7 memfd_create("payload", 0) = 7</memfd:payload>(deleted)
300 3000.8 clone3({flags=CLONE_VM|CLONE_FILES|CLONE_THREAD, exit_signal=0} => \
{parent_tid=[2 /* 301 in strace's PID NS */]}, 88) = 2 /* 301 in strace's PID NS */
301 3000.9 tkill(2 /* 301 in strace's PID NS */, SIGUSR1) = 0
300 3001.0 kill(-1, SIGKILL) = -1 EPERM (Operation not permitted)
300 3001.1 execve("/proc/self/fd/7", ["kworker"], 0x1 /* 0 vars */) = 0
"""


def test_cloexec_socketpairs_threads_and_fexecve() -> None:
    interpreter = TraceInterpreter(init_pid=300, t0=3000.0)
    interpreter.feed_lines(TRACE.splitlines(keepends=True))
    summary = interpreter.summary()
    assert summary.parse_errors == 0
    fexecve = execs(summary.events, "kworker")[0]
    assert (fexecve.path, fexecve.exe) == ("/proc/self/fd/7", "/memfd:payload (deleted)")
    # fd 2 was dup3'd O_CLOEXEC: the exec closed it; fd 1 (dup2) stayed
    streams = (fexecve.stdin, fexecve.stdout, fexecve.stderr)
    assert streams == ("socket:UNIX-STREAM:[60->61]", "pipe:[50]", "")
    thread_signal, group_kill = [e for e in summary.events if isinstance(e, SignalSent)]
    assert (thread_signal.target_pid, thread_signal.target_host_pid) == (2, 300)
    assert (group_kill.target_pid, group_kill.target_host_pid) == (-1, 0)
    (proc,) = summary.processes
    assert (proc.stdin, proc.stdout, proc.exe) == (*streams[:2], fexecve.exe)


def test_the_resolver_stays_inside_the_rootfs(tmp_path: Path) -> None:
    root = fake_rootfs(tmp_path / "rootfs")
    (root / "bin" / "escape").symlink_to("/etc/passwd")  # the host's, if followed outside
    (root / "tmp" / "nested.sh").write_text("#!/tmp/start.sh -x\n")
    (root / "tmp" / "fifo-script").mkdir()
    resolver = ProgramResolver(root)
    assert resolver.real_path("/bin/sh") == "/bin/busybox"
    assert resolver.real_path("/bin/escape") == "/etc/passwd"  # container path: not in it
    assert resolver.interpreter("/bin/escape") == ""
    assert resolver.binary("/tmp/nested.sh") == "/bin/sh"  # nested interpreters followed
    assert resolver.binary("/tmp/fifo-script") == "/tmp/fifo-script"
    assert ProgramResolver(None).binary("/tmp/start.sh") == "/tmp/start.sh"


@pytest.mark.sandbox
def test_pipe_plumbing_and_a_sibling_kill_in_a_real_run(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    image = image_running("/bin/sh", "-c", scenarios.PIPES_AND_SIGNALS)
    result: RunResult = detonate(image, busybox_rootfs, FAST, tmp_path, PROGRESS)
    try:
        check_decoder_feeds_the_shell(result.events)
        check_sibling_kill(result.events, result.processes)
        check_socket_shell(result.events)
        (wget,) = execs(result.events, "wget")
        assert (wget.exe, wget.applet) == ("/bin/busybox", "wget")
        output = (result.artifacts_dir.parent / "output.log").read_text()  # type: ignore[union-attr]
        assert "decoded-ran" in output and "over-socket" in output
    finally:
        remove_run_dir(result)
