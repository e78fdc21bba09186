"""Sample and tracer share their CPUs (sandbox/cpu_placement.py): each traced call is a round
trip between the two, and across CPUs it cost 3x on a quiet virtual machine."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from detonate.model.filesystem import Rootfs
from detonate.sandbox.cpu_placement import cpuset, place
from detonate.sandbox.leftovers import DEFAULT_STATE_DIR
from detonate.sandbox.run import detonate

from .busybox_image import FAST, PROGRESS, image_running


def test_a_run_takes_the_cpus_fewest_live_runs_use() -> None:
    cpus = [0, 1, 2, 3]
    assert place(1.0, [], cpus) == [0]
    assert place(1.0, [[0], [1], [0, 2]], cpus) == [3]
    assert place(0.5, [[0], [1]], cpus) == [2]  # a fraction of a CPU is still one CPU
    assert place(2.5, [[0], [1]], cpus) == [0, 2, 3]


def test_a_quota_of_all_cpus_or_more_is_placed_on_all() -> None:
    assert place(4.0, [[0]], [0, 1, 2, 3]) == [0, 1, 2, 3]
    assert place(8.0, [], [2, 5]) == [2, 5]


def test_a_cpu_list_reads_as_the_cgroup_writes_it() -> None:
    assert cpuset([0, 2, 3]) == "0,2,3"


@pytest.mark.sandbox
def test_the_sample_and_its_tracer_run_on_the_cpus_of_the_run(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    """The sample reads its own allowed CPUs; the tracer's are read from the host while the
    sample runs (its pid is in the run's state file)."""
    seen: dict[str, object] = {}
    done = threading.Event()

    def watch_tracer() -> None:
        while not done.is_set():
            for path in (DEFAULT_STATE_DIR / "runs").glob("detonate-*.json"):
                state = json.loads(path.read_text() or "{}")
                if state.get("run_dir", "").startswith(str(tmp_path)) and state["tracer_pid"]:
                    try:
                        seen["tracer"] = sorted(os.sched_getaffinity(state["tracer_pid"]))
                    except OSError:
                        continue
                    seen["state"] = state["cpus"]
                    return
            done.wait(0.01)

    watcher = threading.Thread(target=watch_tracer)
    watcher.start()
    script = (
        "grep Cpus_allowed_list /proc/self/status; i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done"
    )
    try:
        result = detonate(image_running("/bin/sh", "-c", script), busybox_rootfs, FAST, tmp_path,
                          PROGRESS)  # fmt: skip
    finally:
        done.set()
        watcher.join()
    assert result.artifacts_dir is not None
    output = (result.artifacts_dir.parent / "output.log").read_text()
    placed = seen["state"]
    assert isinstance(placed, list) and len(placed) == 1  # the default quota: one CPU
    assert f"Cpus_allowed_list:\t{placed[0]}\n" in output, output
    assert seen["tracer"] == placed
