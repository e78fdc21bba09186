"""The strace tracer: attaches to the container's init before it starts, writes a trace,
parses it (`tracing.interface.Tracer` is the seam it implements).

Why these strace options:
  -f -p PID      follow every thread and child of runc's init (attached before `runc start`,
                 so the entrypoint's first execve is traced); --seccomp-bpf does not apply to
                 -p attaches (strace(1)), so every syscall of the sample stops in the tracer.
                 Starting `runc create` under strace --seccomp-bpf instead was measured and
                 not adopted (docs/sandbox.md, "Why strace attaches"): the profile's ERRNO
                 outranks strace's TRACE, so blocked mount/unshare/ptrace … attempts would no
                 longer be seen; strace would sit outside the container's netns (-yy below);
                 and postgres's first start would stop on 48,000 of its 74,000 calls instead.
  --pidns-translation  pids the sample sees (clone's result, kill's target) also in host pids.
  -ttt           epoch timestamps, to order our events against the network simulator's.
  -yy            fds shown with their paths and socket endpoints. strace asks the kernel for
                 the endpoints (sock_diag) in its own network namespace: it runs in the
                 container's (nsenter --net, nothing else of it), or sockets show as inodes.
  -s 4096        argv and written paths whole.
  -e raw=write,writev  no buffer contents for these (a busy writer would fill the trace): only
                 the fd and the byte count; the interpreter follows what each fd is (opens,
                 pipe2, socket, dup2 … with their -yy annotations; read is not traced).
  -e signal=!SIGCHLD,…  routine deliveries are noise; strace prints "+++ killed by SIGX +++"
                 only for signals in this set, so fatal ones stay in. kill() calls are traced.
  sleeps and timed waits are not traced: the time keeper (sandbox/timekeeper) traps them by
                 seccomp user notification, compresses them and reports them itself.
  prctl          PR_SET_NAME renames (ProcessRenamed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from detonate.model.options import MiB
from detonate.sandbox.tracing.interface import TraceContext, TracerError, TraceSummary
from detonate.sandbox.tracing.strace.calls import TRACED_CALLS, WRITE_CALLS
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter
from detonate.sandbox.tracing.strace.novelty import TraceNovelty

STRING_LIMIT = 4096
TRACE_CAP_BYTES = 512 * MiB  # the trace file on the host disk stops the run at this size
TRACE_FILE = "trace.log"  # in the run directory, kept with the artifacts


class StraceTracer:
    """`strace -f` writing to `run_dir/trace.log`, read back once the run is over."""

    name = "strace"

    def __init__(self, run_dir: Path, cap_bytes: int | None = None) -> None:
        self.trace_file = run_dir / TRACE_FILE
        self.cap_bytes = TRACE_CAP_BYTES if cap_bytes is None else cap_bytes  # read per run
        self._proc: subprocess.Popen[bytes] | None = None
        self._init_pid = 0
        self._init_fds: dict[int, str] = {}
        self._novelty = TraceNovelty(self.trace_file)

    def command(self, init_pid: int) -> list[str]:
        return [
            "nsenter", f"--net=/proc/{init_pid}/ns/net", "--",
            "strace", "-f", "-q", "--pidns-translation", "-ttt", "-yy", "-s", str(STRING_LIMIT),
            "-o", str(self.trace_file),
            "-e", "signal=!SIGCHLD,SIGWINCH,SIGURG,SIGCONT",
            "-e", "trace=" + ",".join(TRACED_CALLS),
            "-e", "raw=" + ",".join(WRITE_CALLS),
            "-p", str(init_pid),
        ]  # fmt: skip

    def attach(self, init_pid: int) -> None:
        self._init_pid = init_pid
        self._init_fds = _stdio_links(init_pid)
        self._proc = subprocess.Popen(
            self.command(init_pid),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C meant for the analyser must not kill the tracer
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise TracerError(f"strace could not attach to pid {init_pid}: {err.strip()}")
            if _all_threads_traced_by(init_pid, self._proc.pid):
                return
            time.sleep(0.01)
        raise TracerError(f"strace did not attach to pid {init_pid} within 10 s")

    def pid(self) -> int:
        return self._proc.pid if self._proc else 0

    def output_bytes(self) -> int:
        try:
            return self.trace_file.stat().st_size
        except OSError:
            return 0

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def activity(self) -> int:
        return self._novelty()  # reads what strace appended since the last look

    def effects(self) -> int:
        return self._novelty.effects_so_far()

    def limit_reached(self) -> bool:
        return self.output_bytes() >= self.cap_bytes

    def stop(self, grace_seconds: float = 5.0) -> None:
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()

    def summary(self, context: TraceContext) -> TraceSummary:
        interpreter = TraceInterpreter(
            init_pid=self._init_pid,
            t0=context.t0,
            workdir=context.workdir,
            init_exe=context.entrypoint,
            watched=context.watched,
            init_fds=self._init_fds,
            rootfs=context.rootfs,
        )
        interpreter.feed_file(self.trace_file)
        return interpreter.summary()


def _stdio_links(pid: int) -> dict[int, str]:
    """fds 0-2 of runc's init before it starts: "/dev/null", the host path of the output log."""
    links: dict[int, str] = {}
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            links[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
    return links


def _all_threads_traced_by(pid: int, tracer: int) -> bool:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        try:
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            return False
        line = next((x for x in status.splitlines() if x.startswith("TracerPid:")), "")
        if line.split()[-1:] != [str(tracer)]:
            return False
    return bool(tasks)
