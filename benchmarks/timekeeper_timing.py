"""Time keeper timings: wall time to the payload of each 900 s wait form, the cost of the
traps on a syscall-heavy loop (against plain strace) and of a trapped clock read.

    sudo .venv/bin/python benchmarks/timekeeper_timing.py [--repeat 3] [--form "C alarm" ...]

`--form` (repeatable) measures only the wait forms named as in the table, without the
overhead part.

Prints medians and ratios; asserts nothing. Needs root, runc, strace, /bin/busybox, gcc (and
go for the Go forms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from detonate.factory.compile import compile_standin
from detonate.model.events import FileOpenedForWrite
from detonate.model.filesystem import Rootfs
from detonate.model.options import CONTAINER_ID_BASE, SandboxOptions
from detonate.model.runtime import RunResult
from detonate.sandbox.run import detonate
from sandbox.busybox_image import PROGRESS, build_busybox_rootfs, image_running

ROOT = Path(__file__).resolve().parent.parent
WAITER = ROOT / "tests" / "sandbox" / "waits" / "waiter.c"
GO_WAITER = ROOT / "tests" / "sandbox" / "waits" / "go"
C_FORMS = ("nanosleep", "poll", "epoll", "select", "cond", "sigtimedwait", "alarm", "timerfd",
           "timer_signal", "timer_thread", "timer_tid", "timer_interval", "semtimedop",
           "mq_timedreceive", "mq_timedsend", "futex_waitv")  # fmt: skip
GO_FORMS = ("sleep", "after", "ticker")
SHELL_FORMS = {
    "sh: sleep 900": "sleep 900; echo x > /tmp/payload-sh",
    "sh: read -t 900": (
        "mkfifo /tmp/f; exec 3<>/tmp/f; read -t 900 x <&3; echo x > /tmp/payload-sh"
    ),
    # what coreutils' `timeout` does: timer_create (SIGALRM) + timer_settime, sigsuspend
    "sh: timeout 900 cat (C)": (
        "mkfifo /tmp/f; waiter timeout 900 cat /tmp/f; echo x > /tmp/payload-sh"
    ),
}
HEAVY = "i=0; while [ $i -lt 4000 ]; do echo $i > /tmp/f; i=$((i+1)); done; cat /tmp/f"
CLOCK_READS = 20000


def build(base: Path) -> Rootfs:
    root = build_busybox_rootfs(base / "rootfs")
    os.chmod(base, 0o755)
    shutil.copy(compile_standin(WAITER), root / "bin" / "waiter")
    if shutil.which("go"):
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        subprocess.run(["go", "build", "-o", str(root / "bin" / "waiter-go"), "."],
                       cwd=GO_WAITER, env=env, check=True)  # fmt: skip
    for program in (root / "bin").glob("waiter*"):
        os.lchown(program, CONTAINER_ID_BASE, CONTAINER_ID_BASE)
    return Rootfs(root, ())


def run(rootfs: Rootfs, work: Path, *args: str) -> tuple[float, RunResult]:
    options = SandboxOptions(timeout_seconds=60, idle_seconds=2)
    start = time.monotonic()
    result = detonate(image_running(*args), rootfs, options, work, PROGRESS)
    return time.monotonic() - start, result


def to_payload(result: RunResult) -> float:
    """Seconds from the container's start to the payload's write (inf when it never came)."""
    writes = [e.ts for e in result.events if isinstance(e, FileOpenedForWrite)
              and e.path.startswith("/tmp/payload")]  # fmt: skip
    return min(writes, default=float("inf"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--overhead-only", action="store_true", help="skip the wait forms")
    parser.add_argument("--form", action="append", help="only this wait form (repeatable)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="detonate-bench-waits-"))
    rootfs = build(base)
    work = base / "work"
    n = args.repeat

    cases: list[tuple[str, tuple[str, ...]]] = [(f"C {f}", ("/bin/waiter", f)) for f in C_FORMS]
    if (rootfs.root / "bin" / "waiter-go").exists():
        cases += [(f"Go {f}", ("/bin/waiter-go", f)) for f in GO_FORMS]
    cases += [(name, ("/bin/sh", "-c", script)) for name, script in SHELL_FORMS.items()]
    if args.form:
        cases = [case for case in cases if case[0] in args.form]
    if args.overhead_only:
        cases = []
    else:
        print("| wait form (900 s) | to payload | run wall | skipped |")
        print("|---|---|---|---|")
    for name, argv in cases:
        runs = [run(rootfs, work, *argv) for _ in range(n)]
        payload = statistics.median(to_payload(r) for _, r in runs)
        wall = statistics.median(w for w, _ in runs)
        skipped = statistics.median(r.run.skipped_sleep_seconds for _, r in runs)
        print(f"| {name} | {payload:.2f} s | {wall:.2f} s | {skipped:.0f} s |", flush=True)
    if args.form:
        return

    ours, plain = [], []
    for _ in range(n):  # interleaved: the machine's load drifts
        ours.append(run(rootfs, work, "/bin/sh", "-c", HEAVY)[0])
        start = time.monotonic()
        subprocess.run(["strace", "-f", "-o", str(base / "plain.strace"), "busybox", "sh", "-c",
                        HEAVY], cwd=base, capture_output=True)  # fmt: skip
        plain.append(time.monotonic() - start)
    mine, peer = statistics.median(ours), statistics.median(plain)
    print(f"syscall-heavy loop: detonate run {mine:.2f} s (incl. setup), plain strace -f "
          f"{peer:.2f} s: ratio {mine / peer:.2f}")  # fmt: skip

    waiter = str(rootfs.root / "bin" / "waiter")
    loops = [
        statistics.median(
            run(rootfs, work, "/bin/waiter", "clockloop", str(reads))[0] for _ in range(n)
        )
        for reads in (0, CLOCK_READS)
    ]
    start = time.monotonic()
    subprocess.run(["strace", "-f", "-o", str(base / "clock.strace"), waiter, "clockloop",
                    str(CLOCK_READS)], capture_output=True)  # fmt: skip
    host = time.monotonic() - start
    per_read = (loops[1] - loops[0]) / CLOCK_READS * 1e6
    print(f"clock reads: {CLOCK_READS} clock_gettime through the patched vDSO cost "
          f"{loops[1] - loops[0]:.2f} s in a run ({per_read:.1f} µs each, within noise); under "
          f"plain strace (vDSO, untraced) the whole program takes {host:.3f} s")  # fmt: skip
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
