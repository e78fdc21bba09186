"""The time keeper in real runs (runc + strace + seccomp user notification): every form of
timed wait ends within seconds with its delay reported, the clock agrees with the skipped
time, real input still ends a wait, time moves as a discrete-event simulation, and a quiet
server ends by idle."""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from detonate.factory.compile import compile_standin
from detonate.model.events import (
    FileOpenedForWrite,
    SleepSkipped,
    WaitTimedOut,
)
from detonate.model.filesystem import Rootfs
from detonate.model.options import CONTAINER_ID_BASE
from detonate.model.runtime import EndReason, RunResult
from detonate.sandbox.run import detonate

from .busybox_image import FAST, PROGRESS, build_busybox_rootfs, image_running, sandbox_available

pytestmark = pytest.mark.sandbox
WAITER = Path(__file__).parent / "waits" / "waiter.c"
# Wall seconds a scan of a 900 s wait may take here: far below the wait (it was skipped, not
# waited), with room for set-up and teardown on a busy machine (the run itself is bounded by
# FAST's 20 s timeout, and ended_by is asserted). The ≤ 5 s goal is measured in benchmarks/.
WELL_BELOW_THE_WAIT = 60
GO_WAITER = Path(__file__).parent / "waits" / "go"


@pytest.fixture(scope="module")
def waiter_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Rootfs:
    if not sandbox_available() or shutil.which("gcc") is None:
        pytest.skip("needs root, runc, strace, /bin/busybox and gcc")
    root = build_busybox_rootfs(tmp_path_factory.mktemp("waiter") / "rootfs")
    os.chmod(root.parent, 0o755)
    shutil.copy(compile_standin(WAITER), root / "bin" / "waiter")
    _build_dynamic(WAITER, root)
    if shutil.which("go") is not None:
        _build_go(GO_WAITER, root / "bin" / "waiter-go")
    for program in (root / "bin").glob("waiter*"):
        os.lchown(program, CONTAINER_ID_BASE, CONTAINER_ID_BASE)
    return Rootfs(root=root, entries=())


def _build_dynamic(source: Path, root: Path) -> None:
    """The waiter linked against the host's glibc (its loader and libc copied in): glibc's
    loader looks up the vDSO's symbols itself, before the program's first clock read."""
    subprocess.run(["gcc", "-O2", "-o", str(root / "bin" / "waiter-dyn"), str(source)],
                   check=True, timeout=120)  # fmt: skip
    for lib in ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"):
        target = root / lib.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, target)
        for part in (target, *target.relative_to(root).parents):
            os.lchown(root / part, CONTAINER_ID_BASE, CONTAINER_ID_BASE)


def _build_go(source: Path, target: Path) -> None:
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    env.setdefault("GOCACHE", str(Path.home() / ".cache" / "go-build"))
    subprocess.run(
        ["go", "build", "-o", str(target), "."], cwd=source, env=env, check=True, timeout=300
    )


def run(rootfs: Rootfs, work: Path, *args: str, network: object = None) -> RunResult:
    options = dataclasses.replace(FAST, idle_seconds=2)
    return detonate(image_running(*args), rootfs, options, work, PROGRESS, network)  # type: ignore[arg-type]


def payload_written(result: RunResult, name: str) -> FileOpenedForWrite:
    (event,) = [
        e for e in result.events if isinstance(e, FileOpenedForWrite) and e.path == f"/tmp/{name}"
    ]
    return event


@pytest.mark.parametrize(
    ("form", "call", "kind"),
    [
        ("nanosleep", "clock_nanosleep", SleepSkipped),  # glibc's nanosleep
        ("poll", "poll", WaitTimedOut),
        ("epoll", "epoll_wait", WaitTimedOut),
        ("select", "pselect6", WaitTimedOut),  # glibc's select
        ("cond", "futex", WaitTimedOut),  # pthread_cond_timedwait
        ("sigtimedwait", "rt_sigtimedwait", WaitTimedOut),
        ("alarm", "alarm", WaitTimedOut),  # alarm + pause: the keeper's SIGALRM
        ("timerfd", "timerfd_settime", WaitTimedOut),  # a read of the timerfd
        ("semtimedop", "semtimedop", WaitTimedOut),  # a SysV semaphore of 0
        ("mq_timedreceive", "mq_timedreceive", WaitTimedOut),  # an empty message queue
        ("mq_timedsend", "mq_timedsend", WaitTimedOut),  # a full one
        ("futex_waitv", "futex_waitv", WaitTimedOut),
        ("lock_pi", "futex", WaitTimedOut),  # pthread_mutex_timedlock of a PI mutex held
        ("requeue_pi", "futex", WaitTimedOut),  # a condvar on a PI mutex, glibc < 2.25
    ],
)
def test_a_900_s_wait_of_any_form_ends_in_seconds_with_its_delay_reported(
    waiter_rootfs: Rootfs, tmp_path: Path, form: str, call: str, kind: type
) -> None:
    started = time.monotonic()
    result = run(waiter_rootfs, tmp_path, "/bin/waiter", form)
    assert time.monotonic() - started < WELL_BELOW_THE_WAIT
    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    (wait,) = [e for e in result.events if isinstance(e, kind) and e.call == call]
    assert wait.requested_seconds == pytest.approx(900, abs=0.01)
    assert 890 < wait.skipped_seconds <= 900
    assert wait.exe == "/bin/waiter" and wait.pid in dict(result.run.skipped_by_process)
    payload = payload_written(result, f"payload-{form}")
    assert payload.sample_ts - payload.ts >= 890  # in the sample's time it came 900 s later
    assert result.run.skipped_sleep_seconds >= 890


@pytest.mark.parametrize("form", ["sleep", "after", "ticker"])
def test_a_static_go_program_waiting_900_s_reaches_its_payload_with_its_clock_agreeing(
    waiter_rootfs: Rootfs, tmp_path: Path, form: str
) -> None:
    """time.Sleep, time.After in a select, time.NewTicker: Go's runtime waits in futex and
    epoll_pwait with timeouts on many threads; time.Since must see the 900 s (exit 3 if not)."""
    if not (waiter_rootfs.root / "bin" / "waiter-go").exists():
        pytest.skip("needs the go toolchain")
    started = time.monotonic()
    result = run(waiter_rootfs, tmp_path, "/bin/waiter-go", form)
    assert time.monotonic() - started < WELL_BELOW_THE_WAIT
    assert result.run.exit_code == 0
    payload_written(result, f"payload-go-{form}")
    waits = [e for e in result.events if isinstance(e, WaitTimedOut)]
    assert {e.call for e in waits} >= {"epoll_pwait"}
    assert result.run.skipped_sleep_seconds >= 890


@pytest.mark.parametrize("program", ["/bin/waiter", "/bin/waiter-dyn"])
def test_a_sample_that_times_its_own_sleep_with_the_clock_sees_the_time_pass(
    waiter_rootfs: Rootfs, tmp_path: Path, program: str
) -> None:
    """clock_gettime, gettimeofday and time() (vDSO calls: the patched vDSO adds the skipped
    time) before and after `sleep(600)`, static and dynamic glibc: it exits 3 without the
    payload when less than 600 s passed."""
    result = run(waiter_rootfs, tmp_path, program, "clock")
    assert result.run.exit_code == 0
    payload_written(result, "payload-clock")


def test_a_wait_for_a_real_reply_gets_the_reply(waiter_rootfs: Rootfs, tmp_path: Path) -> None:
    """poll(…, 30000) on a socket to the simulated internet ends on its answer, not on a
    compressed timeout."""
    from detonate.sandbox.netsim import Simulator

    with Simulator(tmp_path / "net") as network:
        result = run(
            waiter_rootfs, tmp_path, "/bin/waiter", "reply", "203.0.113.80", "80", network=network
        )
    assert result.run.exit_code == 0
    assert result.artifacts_dir is not None
    assert not [e for e in result.events if isinstance(e, WaitTimedOut) and e.call == "poll"]
    assert [f for f in result.files if f.path == "/tmp/payload-reply"]
    (reply,) = [f for f in result.files if f.path == "/tmp/payload-reply"]
    assert reply.size == len("reply")


def test_a_timed_futex_wait_ends_when_another_thread_wakes_it(
    waiter_rootfs: Rootfs, tmp_path: Path
) -> None:
    """pthread_cond_timedwait(900 s) in one thread, pthread_cond_signal after sleep(2) in
    another: the held futex wait ends on the wake (2 s of sample time), not at 900 s.

    The sample's clock is the skipped 2 s plus the real time the threads took under the
    tracer, which on a busy machine passes a second boundary: the bound is "about 2", far
    below the 900 a held-to-deadline wait would show."""
    result = run(waiter_rootfs, tmp_path, "/bin/waiter", "signalled")
    assert result.run.exit_code == 0
    (took,) = [f for f in result.files if f.path == "/tmp/payload-signalled"]
    assert result.artifacts_dir is not None
    assert 2 <= int((result.artifacts_dir / took.artifact).read_text()) <= 10
    assert not [e for e in result.events if isinstance(e, WaitTimedOut) and e.call == "futex"]
    assert 1.5 < result.run.skipped_sleep_seconds < 2.5  # only the signaller's sleep(2)


@pytest.mark.parametrize(
    ("form", "call"),
    [
        ("sem_posted", "semtimedop"),  # another process's semop +1
        ("mq_sent", "mq_timedreceive"),  # another process's mq_send
        ("mq_drained", "mq_timedsend"),  # another process's mq_receive makes room
        ("waitv_woken", "futex_waitv"),  # another thread changes the word and wakes it
        ("pi_unlocked", "futex"),  # another thread unlocks the PI mutex (FUTEX_LOCK_PI)
        ("requeue_pi_woken", "futex"),  # another thread bumps the word, FUTEX_CMP_REQUEUE_PI
    ],
)
def test_a_held_ipc_wait_ends_on_the_input_another_process_sends(
    waiter_rootfs: Rootfs, tmp_path: Path, form: str, call: str
) -> None:
    """A 900 s semtimedop / mq_timedreceive / mq_timedsend / futex_waitv / PI mutex lock /
    FUTEX_WAIT_REQUEUE_PI, and a child (a thread for the futex forms) that sleeps 1 s and then
    sends what it waits for, unlocks, or bumps the word and requeues: the call returns that
    input (success; futex_waitv and the requeue held: EAGAIN, the word changed) about 1 s of
    sample time later,
    neither a timeout nor at 900 s. About 1: the skipped second plus the real time the
    processes took under the tracer on a busy machine."""
    result = run(waiter_rootfs, tmp_path, "/bin/waiter", form)
    assert result.run.exit_code == 0
    (took,) = [f for f in result.files if f.path == f"/tmp/payload-{form}"]
    assert result.artifacts_dir is not None
    seconds, outcome = (result.artifacts_dir / took.artifact).read_text().split(maxsplit=1)
    assert outcome.strip() == "ok", outcome
    assert 1 <= int(seconds) <= 10
    assert not [e for e in result.events if isinstance(e, WaitTimedOut) and e.call == call]
    assert 0.5 < result.run.skipped_sleep_seconds < 1.5  # only the sender's sleep(1)


def test_time_jumps_only_when_all_wait_and_then_to_the_earliest_deadline(
    waiter_rootfs: Rootfs, tmp_path: Path
) -> None:
    """A background `sleep 60` is still alive when the foreground, after `sleep 1`, looks at
    it; a loop of `sleep 1` writes once per second of sample time."""
    script = (
        "sleep 60 & bg=$!; sleep 1; kill -0 $bg && echo alive > /tmp/alive; "
        "for i in 1 2 3; do sleep 1; echo $i >> /tmp/ticks; done"
    )
    result = run(waiter_rootfs, tmp_path, "/bin/sh", "-c", script)
    assert result.run.ended_by == EndReason.EXITED
    payload_written(result, "alive")
    ticks = [
        e.sample_ts
        for e in result.events
        if isinstance(e, FileOpenedForWrite) and e.path == "/tmp/ticks"
    ]
    assert len(ticks) == 3
    # One second of sample time apart: the skipped 1 s plus the round's real time under the
    # tracer (a fork, an exec, a write), which a busy machine stretches towards a second.
    # Per-process sleeps with their old 0.2 s floor were 0.2 apart; a jump to the background
    # sleep's deadline would be 60.
    assert all(1 <= b - a < 2.5 for a, b in itertools.pairwise(ticks)), ticks
    sleeps = sorted(e.requested_seconds for e in result.events if isinstance(e, SleepSkipped))
    assert sleeps == [1, 1, 1, 1]  # the background sleep 60 never came due: killed at the end


def test_a_countdown_of_short_waits_is_compressed_to_its_payload(
    waiter_rootfs: Rootfs, tmp_path: Path
) -> None:
    """60 x `sleep 5` with nothing between the rounds, then busybox `timeout 120` (120 rounds
    of a 1 s sleep and a `kill(pid, 0)`) on a FIFO nobody writes: 7 minutes of countdown,
    compressed whole, where a health loop's rounds (below) run at real pace after a minute."""
    script = (
        "i=0; while [ $i -lt 60 ]; do sleep 5; i=$((i+1)); done; "
        "mkfifo /tmp/f; timeout 120 cat /tmp/f; echo go > /tmp/payload"
    )
    options = dataclasses.replace(FAST, idle_seconds=2, timeout_seconds=60)
    result = detonate(image_running("/bin/sh", "-c", script), waiter_rootfs, options, tmp_path,
                      PROGRESS)  # fmt: skip
    assert result.run.ended_by == EndReason.EXITED
    assert payload_written(result, "payload").sample_ts >= 60 * 5 + 120


def test_a_poll_loop_beside_the_later_wait_that_ends_it_is_compressed_to_its_payload(
    waiter_rootfs: Rootfs, tmp_path: Path
) -> None:
    """A background `sleep 600` whose end makes the flag, and a loop polling for the flag each
    second: the poll's rounds are a countdown, the next jump each time, and jump at once though
    another wait is pending (it is due later); before, each round waited for the settle and
    600 of them outlasted the run's timeout without the payload."""
    script = (
        "(sleep 600; touch /tmp/go) & "
        "until [ -f /tmp/go ]; do sleep 1; done; echo go > /tmp/payload"
    )
    options = dataclasses.replace(FAST, idle_seconds=2, timeout_seconds=30)
    result = detonate(image_running("/bin/sh", "-c", script), waiter_rootfs, options, tmp_path,
                      PROGRESS)  # fmt: skip
    assert result.run.ended_by == EndReason.EXITED, result.run.ended_by
    assert payload_written(result, "payload").sample_ts >= 600


def test_a_quiet_server_and_a_health_loop_end_by_idle_in_seconds(
    waiter_rootfs: Rootfs, tmp_path: Path
) -> None:
    result = run(
        waiter_rootfs,
        tmp_path,
        "/bin/sh",
        "-c",
        "nc -l -p 8080 & while :; do sleep 5; echo ok > /tmp/health; done",
    )
    assert result.run.ended_by == EndReason.IDLE
    assert result.run.duration_seconds < 15
    compressed = [e for e in result.events if isinstance(e, SleepSkipped) and e.skipped_seconds]
    assert len(compressed) >= 5  # a few rounds of the loop in sample time, then real pace
