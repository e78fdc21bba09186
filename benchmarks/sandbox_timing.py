"""Sandbox timings: the 600 s sleeper, idle stop vs timeout, tracer overhead, concurrency.

    sudo .venv/bin/python benchmarks/sandbox_timing.py [--repeat 3] [--concurrency]

Prints medians and ratios; asserts nothing. Needs root, runc, strace and /bin/busybox.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from detonate.model.filesystem import Rootfs
from detonate.model.options import SandboxOptions
from detonate.sandbox.run import detonate
from sandbox.busybox_image import PROGRESS, build_busybox_rootfs, image_running

SLEEPER = "sleep 600; echo x > /tmp/p; chmod +x /tmp/p; /tmp/p; true"
# ~20k traced syscalls (opens for write) plus untraced reads: a syscall-heavy workload.
HEAVY = "i=0; while [ $i -lt 4000 ]; do echo $i > /tmp/f; i=$((i+1)); done; cat /tmp/f"


def timed(rootfs: Rootfs, work: Path, script: str, **opts: object) -> tuple[float, str]:
    options = dataclasses.replace(SandboxOptions(timeout_seconds=60, idle_seconds=15), **opts)
    start = time.monotonic()
    result = detonate(image_running("/bin/sh", "-c", script), rootfs, options, work, PROGRESS)
    return time.monotonic() - start, result.run.ended_by


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="detonate-bench-"))
    rootfs = Rootfs(build_busybox_rootfs(base / "rootfs"), ())
    work = base / "work"
    n = args.repeat

    sleeper = [timed(rootfs, work, SLEEPER)[0] for _ in range(n)]
    print(f"600 s sleeper: median wall {median(sleeper):.2f} s  (ratio to 600 s: "
          f"{median(sleeper) / 600:.4f})")  # fmt: skip

    idle = [timed(rootfs, work, "nc -l -p 8080", idle_seconds=5)[0] for _ in range(n)]
    timeout = [timed(rootfs, work, "nc -l -p 8080", idle_seconds=0, timeout_seconds=30)[0]]
    print(f"quiet server: idle stop (5 s) {median(idle):.2f} s vs --timeout 30: "
          f"{median(timeout):.2f} s  (ratio {median(idle) / median(timeout):.2f})")  # fmt: skip

    traced = [timed(rootfs, work, HEAVY)[0] for _ in range(n)]
    untraced = []
    plain = []
    for _ in range(n):
        start = time.monotonic()
        subprocess.run(["unshare", "-fp", "--mount-proc", "busybox", "sh", "-c", HEAVY],
                       cwd=base, capture_output=True)  # fmt: skip
        untraced.append(time.monotonic() - start)
        start = time.monotonic()
        subprocess.run(["strace", "-f", "-o", str(base / "plain.strace"), "busybox", "sh", "-c",
                        HEAVY], capture_output=True)  # fmt: skip
        plain.append(time.monotonic() - start)
    print(f"syscall-heavy workload: detonate run {median(traced):.2f} s (incl. setup), "
          f"untraced on host {median(untraced):.2f} s, plain strace -f -o {median(plain):.2f} s; "
          f"ratios: ours/untraced {median(traced) / median(untraced):.1f}, "
          f"ours/plain-strace {median(traced) / median(plain):.2f}")  # fmt: skip

    if args.concurrency:
        single = median([timed(rootfs, work, HEAVY)[0] for _ in range(n)])
        for parallel in (1, 2, 4, 8):
            start = time.monotonic()
            with ThreadPoolExecutor(parallel) as pool:
                list(pool.map(lambda _: timed(rootfs, work, HEAVY), range(parallel)))
            wall = time.monotonic() - start
            print(f"concurrency {parallel}: wall {wall:.2f} s (x{wall / single:.2f} of one run)")
            if wall > 2 * single:
                print(f"time to verdict doubles at {parallel} concurrent runs")
                break


if __name__ == "__main__":
    main()
