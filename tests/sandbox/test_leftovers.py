"""Leftover bookkeeping without a container: which owners count as dead, and state files
written by another version of detonate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from detonate.sandbox.leftovers import (
    RunState,
    StateDir,
    is_alive,
    process_start_time,
    remove_dead_work_dirs,
)


def test_a_state_with_fields_of_a_newer_version_is_still_read(tmp_path: Path) -> None:
    # Else a sweep of an older analyser takes the newer one's live run for an orphan and
    # deletes its container (seen on a shared machine: `runc delete --force` mid-run).
    states = StateDir(tmp_path)
    states.save(RunState("detonate-0123456789ab", str(tmp_path / "run")))
    path = tmp_path / "runs" / "detonate-0123456789ab.json"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "added_by_a_later_version": [1, 2]}))
    (state,) = states.states()
    assert state.container_id == "detonate-0123456789ab"
    assert is_alive(state.owner_pid, state.owner_start)  # ours: live, never swept


def test_a_zombie_owner_is_dead(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start_time(child.pid)
    assert start
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    assert Path(f"/proc/{child.pid}/stat").exists()
    assert not is_alive(child.pid, start)
    child.wait()


def test_work_dirs_of_dead_owners_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = (child.pid, process_start_time(child.pid))
    child.wait()
    mine = (os.getpid(), process_start_time(os.getpid()))
    gone = tmp_path / f"detonate-run-{dead[0]}-{dead[1]}-abc"
    kept = tmp_path / f"detonate-run-{mine[0]}-{mine[1]}-def"
    other = tmp_path / "detonate-run-unrelated"
    for d in (gone, kept, other):
        (d / "artifacts").mkdir(parents=True)
    assert remove_dead_work_dirs(tmp_path) == [gone]
    assert not gone.exists() and kept.exists() and other.exists()
