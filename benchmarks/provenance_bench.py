"""What data provenance costs detection: the provenance walk (and the embedded-stage join)
against every runtime detector on the same run, both timed in this script.

    .venv/bin/python benchmarks/provenance_bench.py [--pipelines 300] [--runs 5]

The run is built, not recorded: `--pipelines` shell pipelines `fetch | sed | sh` (a connect,
pipe writes, a file written, copied, renamed and run), plus a process writing a log between
many connects (the folded DataWritten case). Prints the medians and the share of detection
the provenance walk takes. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from typing import Any

from detonate.detect import run_detectors
from detonate.detect.interface import RunView
from detonate.detect.provenance import provenance_of
from detonate.detect.provenance.embedded import embedded_stages
from detonate.model.events import (
    DataWritten,
    Event,
    FileOpenedForRead,
    FileOpenedForWrite,
    FileRenamed,
    NetworkConnected,
    ProcessExecuted,
    ProcessExited,
    ProcessForked,
)


def build(pipelines: int) -> RunView:
    events: list[Event] = []

    def add(cls: type[Event], pid: int, **fields: Any) -> None:
        events.append(cls(seq=len(events), ts=len(events) / 1000, pid=pid, **fields))

    add(ProcessExecuted, 1, path="/bin/sh", argv=("sh", "/entry"))
    pid = 2
    for n in range(pipelines):
        fetch, sed, cp, run = pid, pid + 1, pid + 2, pid + 3
        pid += 4
        out, got, copy = f"pipe:[{n}]", f"/tmp/got{n}", f"/opt/bin{n}"
        for child in (fetch, sed):
            add(ProcessForked, 1, child_pid=child)
        add(ProcessExecuted, fetch, path="/usr/bin/nc", argv=("nc", "h.test", "80"), stdout=out)
        add(ProcessExecuted, sed, path="/bin/sed", argv=("sed", "1d"), stdin=out, stdout=got)
        add(NetworkConnected, fetch, family="AF_INET", address="198.51.100.7", port=80)
        add(DataWritten, fetch, path=out, fd=1, bytes=512)
        add(DataWritten, sed, path=got, fd=1, bytes=400)
        for child in (fetch, sed):
            add(ProcessExited, child, exit_code=0)
        add(ProcessForked, 1, child_pid=cp)
        add(ProcessExecuted, cp, path="/bin/cp", argv=("cp", got, copy + ".part"))
        add(FileOpenedForRead, cp, path=got, flags="O_RDONLY")
        add(FileOpenedForWrite, cp, path=copy + ".part", flags="O_WRONLY|O_CREAT|O_TRUNC")
        add(DataWritten, cp, path=copy + ".part", fd=4, bytes=400)
        add(ProcessExited, cp, exit_code=0)
        add(FileRenamed, 1, path=copy + ".part", new_path=copy)
        add(ProcessForked, 1, child_pid=run)
        add(ProcessExecuted, run, path=copy, argv=(copy,))
        add(ProcessExited, run, exit_code=0)
        # a logger that connects and writes its log between connects
        add(NetworkConnected, 1, family="AF_INET", address="198.51.100.8", port=443)
        add(DataWritten, 1, path="/var/log/app.log", fd=5, bytes=80)
    return RunView(events=tuple(events))


def median_seconds(action: Any, view: RunView, runs: int) -> float:
    times = []
    for _ in range(runs):
        fresh = replace(view)  # no shared index or provenance from the previous round
        started = time.perf_counter()
        action(fresh)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    view = build(args.pipelines)
    whole = median_seconds(run_detectors, view, args.runs)
    walk = median_seconds(lambda v: (provenance_of(v), embedded_stages(v)), view, args.runs)
    print(f"events: {len(view.events)}, sinks: {len(provenance_of(replace(view)).sinks)}")
    print(f"every runtime detector: median {whole * 1000:.1f} ms")
    print(f"provenance walk + embedded stages (index included): median {walk * 1000:.1f} ms")
    print(f"share of detection: {walk / whole:.1%}")


if __name__ == "__main__":
    main()
