"""Tracer overhead on the syscall-heavy loop: this checkout against another git ref (the
baseline, e.g. main before a tracer change) and against plain `strace -f -o`, interleaved.

    sudo .venv/bin/python benchmarks/tracer_overhead.py [--repeat 5] [--baseline main]

Each detonate run is a fresh Python process (this checkout's src, or the baseline's exported
with `git archive`) timing only its `detonate()` call, so imports cost neither side. Prints
medians and ratios; asserts nothing. Needs root, runc, strace, /bin/busybox and git.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sandbox.busybox_image import build_busybox_rootfs  # noqa: E402

# the Issue 3 loop: ~20k traced syscalls (opens for write) plus untraced reads
HEAVY = "i=0; while [ $i -lt 4000 ]; do echo $i > /tmp/f; i=$((i+1)); done; cat /tmp/f"
CHILD = """
import sys, time
from pathlib import Path
sys.path[:0] = [sys.argv[1] + "/src", sys.argv[1] + "/tests"]
from detonate.model.filesystem import Rootfs
from detonate.model.options import SandboxOptions
from detonate.sandbox.run import detonate
from sandbox.busybox_image import PROGRESS, image_running
options = SandboxOptions(timeout_seconds=60, idle_seconds=2)
image = image_running("/bin/sh", "-c", sys.argv[4])
start = time.monotonic()
result = detonate(image, Rootfs(Path(sys.argv[2]), ()), options, Path(sys.argv[3]), PROGRESS)
print(time.monotonic() - start, result.run.ended_by, len(result.events))
"""


def export(ref: str, into: Path) -> Path:
    """`ref`'s src/ and tests/ into `into` (the working tree is not touched)."""
    archive = subprocess.run(
        ["git", "archive", ref, "src", "tests/sandbox"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def detonate_once(tree: Path, rootfs: Path, work: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(rootfs), str(work), HEAVY],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[1] == "exited", out
    return float(out[0])


def plain_strace(base: Path) -> float:
    start = time.monotonic()
    subprocess.run(
        ["strace", "-f", "-o", str(base / "plain.strace"), "busybox", "sh", "-c", HEAVY],
        cwd=base,
        capture_output=True,
    )
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", default="main", help="git ref to compare with")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="detonate-bench-tracer-"))
    rootfs = build_busybox_rootfs(base / "rootfs")
    os.chmod(base, 0o755)
    baseline = export(args.baseline, base / "baseline")
    work = base / "work"
    ours, theirs, plain = [], [], []
    for _ in range(args.repeat):  # interleaved: the machine's load drifts
        ours.append(detonate_once(ROOT, rootfs, work))
        theirs.append(detonate_once(baseline, rootfs, work))
        plain.append(plain_strace(base))
    mine, before, peer = (statistics.median(x) for x in (ours, theirs, plain))
    print(f"syscall-heavy loop, median of {args.repeat}: this checkout {mine:.2f} s, "
          f"{args.baseline} {before:.2f} s, plain strace -f -o {peer:.2f} s")  # fmt: skip
    print(f"ratios: this/{args.baseline} {mine / before:.2f}, this/plain-strace "
          f"{mine / peer:.2f}, {args.baseline}/plain-strace {before / peer:.2f}")  # fmt: skip
    print("runs (s): this", [round(x, 2) for x in ours], args.baseline,
          [round(x, 2) for x in theirs], "plain", [round(x, 2) for x in plain])  # fmt: skip
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
