"""The Tracer seam, proven in a real run: a second implementation (proc_tracer.ProcTracer,
polling /proc, no ptrace) takes strace's place in the sandbox, and its typed events reach
the same detectors, which find the same thing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from detonate.detect import RunView, runtime_findings
from detonate.model.events import ProcessExecuted
from detonate.model.filesystem import Rootfs
from detonate.model.runtime import EndReason
from detonate.sandbox.run import detonate
from detonate.sandbox.tracing import TRACERS

from ..busybox_image import FAST, PROGRESS, image_running
from .proc_tracer import ProcTracer

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

POOL = "stratum+tcp://pool.test:3333"
# a "miner": a shell counting for a second or two, with a pool URL on its command line
SCRIPT = f"sh -c 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done' miner {POOL} -k"


@pytest.mark.parametrize("tracer", ["strace", "proc"])
def test_either_tracer_feeds_the_same_detectors(
    tracer: str, busybox_rootfs: Rootfs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(TRACERS, "proc", ProcTracer)
    options = dataclasses.replace(FAST, tracer=tracer)
    image = image_running("/bin/sh", "-c", SCRIPT)
    result = detonate(image, busybox_rootfs, options, tmp_path, PROGRESS)
    assert result.run.ended_by == EndReason.EXITED
    (miner,) = [e for e in result.events if isinstance(e, ProcessExecuted) and POOL in e.argv]
    assert miner.argv[:2] == ("sh", "-c") and miner.pid in {p.pid for p in result.processes}
    view = RunView(events=result.events, processes=result.processes, run=result.run)
    found = {f.rule_id: f for f in runtime_findings(view)}
    assert any(miner.seq in ev.event_ids for ev in found["exec-stratum-url"].evidence)
