"""What a sandbox run holds on the host, read from its state file while it runs, and whether
any of it is still there: the container, its processes (by cgroup), the tracer, the overlay
mounts, the cgroup and the simulator's network namespace."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from detonate.sandbox.leftovers import (
    CGROUP_ROOT,
    DEFAULT_STATE_DIR,
    RunState,
    StateDir,
    is_alive,
    process_start_time,
)
from detonate.sandbox.netsim.topology import list_namespaces, namespace_owner
from detonate.sandbox.overlay import mounted_paths


@dataclass(frozen=True)
class RunHoldings:
    state: RunState
    processes: tuple[tuple[int, int], ...]  # (pid, start time) of the container's processes
    namespaces: tuple[str, ...]

    @property
    def owner(self) -> int:
        return self.state.owner_pid


def cgroup_dirs(name: str) -> list[Path]:
    return [c / name for c in CGROUP_ROOT.iterdir() if (c / name).is_dir()]


def cgroup_processes(name: str) -> tuple[tuple[int, int], ...]:
    found = set()
    for directory in cgroup_dirs(name):
        try:
            pids = (directory / "cgroup.procs").read_text().split()
        except OSError:
            continue
        found |= {(int(p), process_start_time(int(p))) for p in pids}
    return tuple(sorted(found))


def wait_for_running_sandbox(owners: Callable[[], list[int]], timeout: float = 120) -> RunHoldings:
    """The first run owned by one of `owners()` (pids) whose sample is started and traced
    (other tests' runs on this machine are not ours)."""
    states = StateDir(DEFAULT_STATE_DIR)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = owners()
        for state in states.states():
            if state.owner_pid not in mine:
                continue
            name = state.cgroup.strip("/")
            processes = cgroup_processes(name) if name else ()
            if state.tracer_pid and state.mounts and processes:
                owner = state.owner_pid
                namespaces = tuple(
                    n for n in list_namespaces() if (namespace_owner(n) or (0,))[0] == owner
                )
                return RunHoldings(state, processes, namespaces)
        time.sleep(0.02)
    raise AssertionError(f"no sandbox run of {owners} started within {timeout} s")


def kill_owner(holdings: RunHoldings) -> None:
    os.kill(holdings.owner, signal.SIGKILL)


def still_there(holdings: RunHoldings) -> list[str]:
    """Everything of the run that survives; [] when it is all gone."""
    state = holdings.state
    left = []
    if is_alive(state.owner_pid, state.owner_start):
        left.append(f"owner process {state.owner_pid}")
    if state.container_id in StateDir(DEFAULT_STATE_DIR).runc.list_ids():
        left.append(f"container {state.container_id}")
    left += [f"process {pid}" for pid, start in holdings.processes if is_alive(pid, start)]
    if is_alive(state.tracer_pid, state.tracer_start):
        left.append(f"tracer {state.tracer_pid}")
    mounted = set(mounted_paths())
    left += [f"mount {m}" for m in state.mounts if m in mounted]
    left += [f"cgroup {d}" for d in cgroup_dirs(state.cgroup.strip("/"))]
    present = set(list_namespaces())
    left += [f"netns {n}" for n in holdings.namespaces if n in present]
    if (DEFAULT_STATE_DIR / "runs" / f"{state.container_id}.json").exists():
        left.append("state file")
    if state.mount_dir and Path(state.mount_dir).exists():
        left.append(f"mount dir {state.mount_dir}")
    return left


def wait_until_gone(holdings: RunHoldings, timeout: float = 30) -> list[str]:
    """What of the run is still there after up to `timeout` seconds; [] once all is gone."""
    deadline = time.monotonic() + timeout
    left = still_there(holdings)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = still_there(holdings)
    return left
