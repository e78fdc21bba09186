"""The trace interpreter: strace lines → typed events and the process table.

Contract: `feed_lines` then `summary()` gives a TraceSummary for any text, whatever the sample
made strace print (a line it cannot read is counted in `parse_errors`). Nothing raises. The
first line's pid plays runc's init, so the fuzzer reaches the entrypoint's events. A small
scratch rootfs (busybox symlinks, a script, a symlink loop and one that climbs out) lets the
program resolver follow what the trace names; nothing there is ever run.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fuzz_harness import TESTS, check, files_under, text, windows

from detonate.sandbox.tracing.interface import TraceSummary
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

TIME_BOUND = 5.0
_PID = re.compile(r"\s*(\d{1,9})\s")
_rootfs: Path | None = None


def _scratch_rootfs() -> Path:
    global _rootfs
    if _rootfs is None:
        _rootfs = Path(tempfile.mkdtemp(prefix="detonate-fuzz-rootfs-"))
        atexit.register(shutil.rmtree, _rootfs, True)
        for directory in ("bin", "tmp", "opt/x"):
            (_rootfs / directory).mkdir(parents=True)
        (_rootfs / "bin/busybox").write_bytes(b"\x7fELF stand-in, never run\n")
        for applet in ("sh", "sleep", "wget"):
            os.symlink("busybox", _rootfs / "bin" / applet)
        (_rootfs / "tmp/payload.sh").write_bytes(b"#!/bin/sh -e\necho x\n")
        (_rootfs / "opt/x/run.sh").write_bytes(b"#!/tmp/payload.sh\n")
        os.symlink("loop", _rootfs / "tmp/loop")
        os.symlink("../../../../../../etc", _rootfs / "tmp/up")
    return _rootfs


def seeds() -> Iterator[bytes]:
    traces = list(files_under(TESTS / "sandbox" / "corpus", "*.strace"))
    yield from traces  # whole runs (cut at max_len): runc's set-up, then the entrypoint
    yield from windows(iter(traces), 24)


def fuzz(data: bytes) -> None:
    lines = text(data).splitlines(keepends=True)
    first = _PID.match(lines[0]) if lines else None
    interpreter = TraceInterpreter(
        init_pid=int(first[1]) if first else 1,
        t0=0.0,
        init_exe="/bin/sh",
        init_fds={0: "/dev/null", 1: "pipe:[1]", 2: "/dev/null"},
        watched={"/root/.aws/credentials": "aws-credentials"},
        rootfs=_scratch_rootfs(),
    )
    interpreter.feed_lines(lines)
    summary = interpreter.summary()
    check(isinstance(summary, TraceSummary), "summary() is not a TraceSummary")
    check(summary.parse_errors >= 0 and summary.lines_lost >= 0, "negative counts")
    check([e.seq for e in summary.events] == list(range(len(summary.events))), "event seq")
