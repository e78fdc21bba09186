"""A run says where its wall time went (`RunInfo.phase_seconds`): set-up, the run itself,
collecting what it did and teardown, in order, adding up to the whole sandbox call."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from detonate.model.filesystem import Rootfs
from detonate.sandbox.phases import Phases
from detonate.sandbox.session import sandboxed_run

from .busybox_image import FAST, PROGRESS, image_running


def test_phases_follow_each_other_and_add_up() -> None:
    phases = Phases()
    time.sleep(0.02)
    phases.end("setup")
    phases.end("run")
    time.sleep(0.01)
    phases.end("setup")  # a phase met again adds to its total, keeping its place
    (first, spent), (second, _) = phases.seconds()
    assert (first, second) == ("setup", "run")
    assert spent >= 0.03


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_run_reports_its_phases(busybox_rootfs: Rootfs, tmp_path: Path) -> None:
    started = time.monotonic()
    with sandboxed_run(
        image_running("/bin/sh", "-c", "echo hi"), busybox_rootfs, FAST, PROGRESS, tmp_path
    ) as result:
        wall = time.monotonic() - started
    phases = dict(result.run.phase_seconds)
    assert list(phases) == ["setup", "run", "collect", "teardown"]
    assert all(seconds >= 0 for seconds in phases.values())
    # "run" is the sample's time, the one duration_seconds measures
    assert abs(phases["run"] - result.run.duration_seconds) < 0.05
    # the phases cover the sandbox's whole call, which is all of this stage but a sweep
    assert wall - 0.5 < sum(phases.values()) <= wall + 0.01
