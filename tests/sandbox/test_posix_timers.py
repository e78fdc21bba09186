"""POSIX timers in real runs (runc + strace + seccomp user notification): timer_settime is a
timer of the time keeper in virtual time, so a sample that arms one for 900 s and then waits
in a call with no timeout of its own (sigwaitinfo, pause, sem_wait, waitpid) reaches its
payload in seconds with the delay reported and its clock agreeing; coreutils' `timeout 900`
(timer_create + timer_settime, then sigsuspend) ends as it would after 900 s; a timer whose
process is gone or exec'd is never fired into it."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from detonate.factory.compile import compile_standin, musl_unavailable
from detonate.model.events import FileOpenedForWrite, WaitTimedOut
from detonate.model.filesystem import Rootfs
from detonate.model.options import CONTAINER_ID_BASE
from detonate.model.runtime import EndReason, RunResult
from detonate.sandbox.run import detonate

from .busybox_image import FAST, PROGRESS, build_busybox_rootfs, image_running, sandbox_available

pytestmark = pytest.mark.sandbox
WAITER = Path(__file__).parent / "waits" / "waiter.c"
COREUTILS_TIMEOUT = Path("/usr/bin/timeout")
HOST_GLIBC = ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6")


@pytest.fixture(scope="module")
def timer_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Rootfs:
    """busybox, the waiter (static glibc, linked against the host's glibc as /bin/waiter-dyn,
    and, when musl-gcc is there, static musl as /bin/waiter-musl) and, when the host has it,
    coreutils' `timeout` as /bin/timeout-coreutils (the host's glibc is its only library)."""
    if not sandbox_available() or shutil.which("gcc") is None:
        pytest.skip("needs root, runc, strace, /bin/busybox and gcc")
    root = build_busybox_rootfs(tmp_path_factory.mktemp("timers") / "rootfs")
    os.chmod(root.parent, 0o755)
    shutil.copy(compile_standin(WAITER), root / "bin" / "waiter")
    subprocess.run(["gcc", "-O2", "-o", str(root / "bin" / "waiter-dyn"), str(WAITER)],
                   check=True, timeout=120)  # fmt: skip
    installed = [root / "bin" / "waiter", root / "bin" / "waiter-dyn"]
    if musl_unavailable() is None:
        shutil.copy(compile_standin(WAITER, "musl"), root / "bin" / "waiter-musl")
        installed.append(root / "bin" / "waiter-musl")
    if COREUTILS_TIMEOUT.exists():
        shutil.copy(COREUTILS_TIMEOUT, root / "bin" / "timeout-coreutils")
        installed.append(root / "bin" / "timeout-coreutils")
    for lib in HOST_GLIBC:
        target = root / lib.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, target)
        installed += [target, *(root / p for p in target.relative_to(root).parents)]
    for path in installed:
        os.lchown(path, CONTAINER_ID_BASE, CONTAINER_ID_BASE)
    return Rootfs(root=root, entries=())


def run(rootfs: Rootfs, work: Path, *args: str) -> RunResult:
    options = dataclasses.replace(FAST, idle_seconds=2)
    return detonate(image_running(*args), rootfs, options, work, PROGRESS)


def written(result: RunResult, name: str) -> FileOpenedForWrite:
    (event,) = [
        e for e in result.events if isinstance(e, FileOpenedForWrite) and e.path == f"/tmp/{name}"
    ]
    return event


def content(result: RunResult, name: str) -> str:
    (file,) = [f for f in result.files if f.path == f"/tmp/{name}"]
    assert result.artifacts_dir is not None
    return (result.artifacts_dir / file.artifact).read_text().strip()


def timer_waits(result: RunResult) -> list[WaitTimedOut]:
    return [e for e in result.events if isinstance(e, WaitTimedOut) and e.call == "timer_settime"]


@pytest.mark.parametrize(
    ("program", "form", "periods"),
    [
        ("/bin/waiter", "timer_signal", (900,)),  # SIGEV_SIGNAL, sigwaitinfo; timer_gettime
        ("/bin/waiter", "timer_thread", (900,)),  # glibc's SIGEV_THREAD, absolute REALTIME
        ("/bin/waiter-dyn", "timer_thread", (900,)),  # the same with the shared libc
        # musl's SIGEV_THREAD: SIGEV_THREAD_ID to a helper thread that runs the function in
        # its handler of signal 32 when si_code is SI_TIMER
        ("/bin/waiter-musl", "timer_thread", (900,)),
        ("/bin/waiter", "timer_tid", (900,)),  # SIGEV_THREAD_ID to a thread (CLOCK_BOOTTIME)
        ("/bin/waiter", "timer_interval", (300, 300, 300)),  # then disarmed: old value read
    ],
)
def test_a_posix_timer_of_900_s_fires_in_virtual_time_with_its_delay_reported(
    timer_rootfs: Rootfs, tmp_path: Path, program: str, form: str, periods: tuple[int, ...]
) -> None:
    """The waiter exits 3 without its payload when CLOCK_MONOTONIC saw less than 900 s, 1 when
    the signal lacks SI_TIMER or the timer's value, 4 when timer_gettime/the old value
    disagree with virtual time. Not compressed, it would still wait when the run times out."""
    if not (timer_rootfs.root / program.lstrip("/")).exists():
        pytest.skip(f"{program}: {musl_unavailable()}")
    result = run(timer_rootfs, tmp_path, program, form)
    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    waits = timer_waits(result)
    assert [round(w.requested_seconds) for w in waits] == list(periods)
    assert all(w.exe == program and w.skipped_seconds > 0.95 * w.requested_seconds
               for w in waits)  # fmt: skip
    assert {w.pid for w in waits} <= dict(result.run.skipped_by_process).keys()
    payload = written(result, f"payload-{form}")
    assert payload.sample_ts - payload.ts >= 890  # in the sample's time it came 900 s later
    assert result.run.skipped_sleep_seconds >= 890


@pytest.mark.parametrize(
    ("timeout", "seconds"), [("/bin/timeout-coreutils", 1500), ("/bin/waiter timeout", 900)]
)
def test_timeout_of_a_command_that_never_ends_ends_in_virtual_time(
    timer_rootfs: Rootfs, tmp_path: Path, timeout: str, seconds: int
) -> None:
    """`timeout 1500 cat FIFO` (coreutils: timer_create(CLOCK_REALTIME, SIGALRM) +
    timer_settime, then sigsuspend until the child exits): SIGALRM comes at the virtual
    deadline, timeout kills cat and exits 124, and what follows runs. 1500 s is longer than
    the keeper's horizon: one wait begun after something new is still skipped whole."""
    if timeout.startswith("/bin/timeout-coreutils") and not COREUTILS_TIMEOUT.exists():
        pytest.skip("the host has no coreutils timeout")
    script = f"mkfifo /tmp/f; {timeout} {seconds} cat /tmp/f; echo $? > /tmp/payload-timeout"
    result = run(timer_rootfs, tmp_path, "/bin/sh", "-c", script)
    assert result.run.ended_by == EndReason.EXITED
    assert content(result, "payload-timeout") == "124"
    (wait,) = timer_waits(result)
    assert wait.requested_seconds == pytest.approx(seconds, abs=0.01)
    assert wait.exe == timeout.split()[0]
    assert written(result, "payload-timeout").sample_ts >= seconds - 10


def test_a_timer_of_a_process_that_exited_is_never_fired_nor_waited_for(
    timer_rootfs: Rootfs, tmp_path: Path
) -> None:
    """`timeout 900 sleep 5`: the child exits first and timeout exits with it, its timer
    deleted by the kernel. The keeper drops its copy: no signal later, no jump to it, and
    the shell's untimed `cat` of a FIFO ends the run idle with 5 s skipped, not 900."""
    if not COREUTILS_TIMEOUT.exists():
        pytest.skip("the host has no coreutils timeout")
    script = (
        "mkfifo /tmp/f; /bin/timeout-coreutils 900 sleep 5; echo $? > /tmp/payload-early; "
        "exec cat /tmp/f"
    )
    result = run(timer_rootfs, tmp_path, "/bin/sh", "-c", script)
    assert result.run.ended_by == EndReason.IDLE
    assert content(result, "payload-early") == "0"  # sleep's own exit, not 124
    assert not timer_waits(result)
    assert 4 < result.run.skipped_sleep_seconds < 100


def test_a_timer_deleted_by_an_exec_neither_fires_nor_moves_the_clock(
    timer_rootfs: Rootfs, tmp_path: Path
) -> None:
    """A SIGUSR1 timer of 60 s, then exec: the exec deleted the timer (its SIGUSR1 would kill
    the new program), which drops its payload and pause()s. Nothing is left to wake it: the
    run ends idle without a jump to the dead timer's deadline."""
    result = run(timer_rootfs, tmp_path, "/bin/waiter", "timer_exec")
    assert result.run.ended_by == EndReason.IDLE
    written(result, "payload-timer_exec")
    assert not timer_waits(result)
    assert result.run.skipped_sleep_seconds < 1


def test_periods_skipped_while_a_timers_signal_is_blocked_are_its_overruns(
    timer_rootfs: Rootfs, tmp_path: Path
) -> None:
    """A SIGRTMIN timer of 60 s, its signal blocked through a 630 s sleep, then taken: the
    expiries at 120 … 600 s found it still queued, and timer_getoverrun counts them (9), as
    the kernel would (the waiter works out the count from its own clock). Without the keeper
    counting them, timer_getoverrun read 0."""
    result = run(timer_rootfs, tmp_path, "/bin/waiter", "timer_overrun")
    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    words = content(result, "payload-timer_overrun").split()
    overrun, expected = int(words[1]), int(words[5])
    assert expected >= 9  # 630 s of sample time passed in the sleep
    assert overrun > 0 and abs(overrun - expected) <= 1  # a period may end between the reads
    assert [round(w.requested_seconds) for w in timer_waits(result)] == [60] * (expected + 1)
    assert result.run.skipped_sleep_seconds >= 620
