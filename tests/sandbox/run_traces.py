"""Everything one analyser's runs have on the host, listed from outside (by its pid), so a test
can kill the analyser and watch each piece go: the container's processes (by its cgroup),
strace, the simulator's namespace and what runs in it (services, tcpdump), mounts, cgroups,
state files, the time keeper's socket dir, the temporary work dir and the home dir of a
simulator started ahead."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from detonate.sandbox.leftovers import (
    CGROUP_ROOT,
    DEFAULT_STATE_DIR,
    WORK_DIR_PREFIX,
    is_alive,
    process_start_time,
)
from detonate.sandbox.netsim.pool import HOME_PREFIX as SIMULATOR_HOME_PREFIX
from detonate.sandbox.netsim.topology import PREFIX as NETNS_PREFIX
from detonate.sandbox.overlay import mounted_paths


@dataclass
class RunTraces:
    owner: int
    container_ids: list[str] = field(default_factory=list)
    processes: dict[int, int] = field(default_factory=dict)  # pid → start time
    namespaces: list[str] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    @classmethod
    def of(cls, owner: int, state_dir: Path = DEFAULT_STATE_DIR) -> RunTraces:
        traces = cls(owner)
        for path in (state_dir / "runs").glob("detonate-*.json"):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if state["owner_pid"] != owner:
                continue
            traces.container_ids.append(state["container_id"])
            traces._add(state["tracer_pid"])
            procs = CGROUP_ROOT / "pids" / state["container_id"] / "cgroup.procs"
            for pid in procs.read_text().split() if procs.exists() else ():
                traces._add(int(pid))
            if state["keeper_dir"]:
                traces.dirs.append(Path(state["keeper_dir"]))
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for name in (line.split()[0] for line in names.splitlines() if line.strip()):
            if name.startswith(f"{NETNS_PREFIX}{owner}-"):
                traces.namespaces.append(name)
                listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True)
                for pid in listed.stdout.split():
                    traces._add(int(pid))
        temp = Path(tempfile.gettempdir())
        traces.dirs += temp.glob(f"{WORK_DIR_PREFIX}{owner}-*")
        traces.dirs += temp.glob(f"{SIMULATOR_HOME_PREFIX}{owner}-*")  # a simulator not taken yet
        return traces

    @classmethod
    def wait_for(cls, analyser: subprocess.Popen[bytes], processes: int = 5) -> RunTraces:
        """Until the analyser's run has its container, tracer, simulator and sample processes
        (its start, unpack and set-up took over a minute with four suites on the machine)."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert analyser.poll() is None, analyser.stderr.read() if analyser.stderr else ""
            traces = cls.of(analyser.pid)
            # strace, the shell and nc (wget may be done already), the simulator and tcpdump
            if traces.container_ids and traces.namespaces and len(traces.processes) >= processes:
                return traces
            time.sleep(0.1)
        raise AssertionError("the run never started")

    def _add(self, pid: int) -> None:
        start = process_start_time(pid)
        if pid > 0 and start:
            self.processes[pid] = start

    def remaining(self, state_dir: Path = DEFAULT_STATE_DIR) -> list[str]:
        """What is still there, in words; [] once everything is gone."""
        left = [f"process {pid}" for pid, start in self.processes.items() if is_alive(pid, start)]
        mounts = mounted_paths()
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for container_id in self.container_ids:
            left += [f"mount {m}" for m in mounts if container_id in m]
            left += [f"cgroup {c / container_id}" for c in CGROUP_ROOT.iterdir()
                     if (c / container_id).exists()]  # fmt: skip
            if (state_dir / "runs" / f"{container_id}.json").exists():
                left.append(f"state of {container_id}")
            if (state_dir / "runc" / container_id).exists():
                left.append(f"runc state of {container_id}")
        left += [f"namespace {n}" for n in self.namespaces if n in names]
        left += [f"dir {d}" for d in self.dirs if d.exists()]
        return left

    def seconds_until_gone(self, limit: float, state_dir: Path = DEFAULT_STATE_DIR) -> float:
        """Seconds until nothing remains (polled every 50 ms); AssertionError after `limit`."""
        started = time.monotonic()
        while self.remaining(state_dir):
            if time.monotonic() - started > limit:
                raise AssertionError(f"left after {limit} s: {self.remaining(state_dir)}")
            time.sleep(0.05)
        return time.monotonic() - started
