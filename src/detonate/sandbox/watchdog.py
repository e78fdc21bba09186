"""The analyser's watchdog: when the analyser dies (SIGKILL, the OOM killer), it does at once
what the next start would do, so nothing of a run outlives its analyser by more than seconds.

    python -m detonate.sandbox.watchdog STATE_DIR PID START_TIME

One per analyser process, started (detached, in its own session, so a Ctrl-C or a kill of the
analyser's process group does not reach it) before its first run. It waits on a pidfd of the
analyser, which becomes readable once the analyser has exited: no pipe that a forked child
could hold open, and a recycled pid cannot pass for it (the start time is checked). Then it
sweeps: the runs of dead analysers (the container's processes, strace, mounts, cgroups, state
and the time keeper's socket dir), the simulators' namespaces with what runs in them (the
services, tcpdump), their temporary work dirs and the dirs of simulators started ahead. It
sweeps again a little later, for a `runc create` the analyser had started and that finished
after the first sweep.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from detonate.sandbox.leftovers import StateDir, is_alive, process_start_time

SWEEP_DELAYS = (0.0, 1.0, 2.0)  # seconds before each sweep once the analyser is gone

_started: set[tuple[int, Path]] = set()
_lock = threading.Lock()


def ensure_watchdog(state_dir: Path) -> None:
    """Start this process's watchdog for `state_dir` unless it already has one."""
    pid = os.getpid()
    key = (pid, state_dir)
    with _lock:
        if key in _started:
            return
        # `setsid --fork`: the watchdog is nobody's child here (no zombie, no Popen to keep).
        command = ["setsid", "--fork", sys.executable, "-m", "detonate.sandbox.watchdog",
                   str(state_dir), str(pid), str(process_start_time(pid))]  # fmt: skip
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=True,
            )
            _started.add(key)


def watchdogs_of(owner: int) -> list[int]:
    """Pids of the watchdogs of analyser `owner` (a test that kills both finds them here)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if __name__.encode() in argv and str(owner).encode() in argv:
            found.append(int(entry.name))
    return found


def wait_for_exit(pid: int, start_time: int) -> None:
    """Return once the process `pid` (started at `start_time`) has exited."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return  # already gone
    try:
        if not is_alive(pid, start_time):
            return  # gone (or a zombie, or a recycled pid) before the pidfd was opened
        select.select([pidfd], [], [])
    finally:
        os.close(pidfd)


def sweep(state_dir: Path) -> None:
    from detonate.sandbox.netsim.pool import remove_orphaned_homes
    from detonate.sandbox.netsim.topology import cleanup_orphans

    StateDir(state_dir).sweep()  # also the dead analysers' temporary work dirs
    cleanup_orphans()  # its simulators' namespaces (a run's, or one started ahead) …
    remove_orphaned_homes()  # … and the dirs those started ahead waited in


def main(argv: list[str]) -> int:
    state_dir, pid, start_time = Path(argv[0]), int(argv[1]), int(argv[2])
    wait_for_exit(pid, start_time)
    for delay in SWEEP_DELAYS:
        time.sleep(delay)
        with contextlib.suppress(Exception):  # a sweep that fails is retried by the next one
            sweep(state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
