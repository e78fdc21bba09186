"""The trace interpreter: strace lines → typed events and the process table.

Contract: `feed_lines` then `summary()` gives a TraceSummary for any text, whatever the sample
made strace print (a line it cannot read is counted in `parse_errors`). Nothing raises. The
first line's pid plays runc's init, so the fuzzer reaches the entrypoint's events.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fuzz_harness import TESTS, check, files_under, text

from detonate.sandbox.trace_events import TraceInterpreter, TraceSummary

TIME_BOUND = 5.0
_PID = re.compile(r"\s*(\d{1,9})\s")


def seeds() -> Iterator[bytes]:
    yield from files_under(TESTS / "sandbox" / "corpus", "*.strace")


def fuzz(data: bytes) -> None:
    lines = text(data).splitlines(keepends=True)
    first = _PID.match(lines[0]) if lines else None
    interpreter = TraceInterpreter(
        init_pid=int(first[1]) if first else 1,
        t0=0.0,
        init_exe="/bin/sh",
        init_fds={0: "/dev/null", 1: "pipe:[1]", 2: "/dev/null"},
        watched={"/root/.aws/credentials": "aws-credentials"},
    )
    interpreter.feed_lines(lines)
    summary = interpreter.summary()
    check(isinstance(summary, TraceSummary), "summary() is not a TraceSummary")
    check(summary.parse_errors >= 0 and summary.lines_lost >= 0, "negative counts")
    check([e.seq for e in summary.events] == list(range(len(summary.events))), "event seq")
