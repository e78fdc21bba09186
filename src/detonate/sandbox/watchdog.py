"""The analyser's watchdog: when the analyser dies (SIGKILL, the OOM killer), it does at once
what the next start would do, so nothing of a run outlives its analyser by more than seconds.

    python -m detonate.sandbox.watchdog STATE_DIR PID START_TIME [CACHE_DIR]

One per analyser process, started (detached, in its own session, so a Ctrl-C or a kill of the
analyser's process group does not reach it) when its first scan that will run the sandbox
begins, before the simulator started ahead and the unpacking of layers. It waits on a pidfd of
the analyser, which becomes readable once the analyser has exited: no pipe that a forked child
could hold open, and a recycled pid cannot pass for it (the start time is checked). Then it
sweeps: the runs of dead analysers (a `runc create` still under way, the container's
processes, strace, mounts, cgroups, state and the time keeper's socket dir), the simulators'
namespaces with what runs in them (the services, tcpdump), their home and temporary work dirs,
and the layers the analyser was unpacking into CACHE_DIR. It sweeps again a little later, for
anything the analyser had started that ended after the first sweep.

A process whose leftovers another process sweeps the moment it dies starts none
(`swept_by_others`): a fleet worker's scan processes, one per scan, whose replacement sweeps.
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

from detonate.sandbox.leftovers import StateDir, is_alive, process_argvs, process_start_time

SWEEP_DELAYS = (0.0, 1.0, 2.0)  # seconds before each sweep once the analyser is gone

_started: set[tuple[int, Path, Path | None]] = set()  # analyser pid, state dir, cache dir
_swept_by_others: set[int] = set()  # analysers whose leftovers another process sweeps at once
_lock = threading.Lock()


def swept_by_others() -> None:
    """This process starts no watchdog: another process sweeps what it leaves the moment it
    dies. A fleet worker's scan process: the worker's main process replaces it at once, the
    replacement sweeps from its start, and the main process has a watchdog of its own (the
    scan processes die with it). A watchdog per scan process cost ~0.3 s of CPU per scan
    (a Python start and three sweeps after every exit, measured), beside the next scan."""
    with _lock:
        _swept_by_others.add(os.getpid())


def ensure_watchdog(state_dir: Path, cache_dir: Path | None = None) -> None:
    """Start this process's watchdog for `state_dir` (and the layers it unpacks into
    `cache_dir`) unless it already has one or needs none (`swept_by_others`)."""
    pid = os.getpid()
    cache_dir = cache_dir.absolute() if cache_dir is not None else None  # for its own cwd
    key = (pid, state_dir, cache_dir)
    with _lock:
        if pid in _swept_by_others:
            return
        if key in _started or (cache_dir is None and any(k[:2] == key[:2] for k in _started)):
            return
        # `setsid --fork`: the watchdog is nobody's child here (no zombie, no Popen to keep).
        command = ["setsid", "--fork", sys.executable, "-m", "detonate.sandbox.watchdog",
                   str(state_dir), str(pid), str(process_start_time(pid)),
                   *([str(cache_dir)] if cache_dir is not None else [])]  # fmt: skip
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
    return [pid for pid, argv in process_argvs() if __name__ in argv and str(owner) in argv]


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


def sweep(state_dir: Path, owner: int, cache_dir: Path | None = None) -> None:
    """What the dead analyser `owner` left, and the leftovers of any other dead one."""
    from detonate.sandbox.netsim.pool import remove_orphaned_homes
    from detonate.sandbox.netsim.topology import cleanup_orphans
    from detonate.unpack.layer_store import LayerStore

    StateDir(state_dir).sweep()  # also the dead analysers' temporary work dirs
    cleanup_orphans()
    remove_orphaned_homes()  # simulators started ahead and not taken by a run
    if cache_dir is not None:
        LayerStore(cache_dir).remove_work_of(owner)


def main(argv: list[str]) -> int:
    state_dir, pid, start_time = Path(argv[0]), int(argv[1]), int(argv[2])
    cache_dir = Path(argv[3]) if len(argv) > 3 else None
    wait_for_exit(pid, start_time)
    for delay in SWEEP_DELAYS:
        time.sleep(delay)
        with contextlib.suppress(Exception):  # a sweep that fails is retried by the next one
            sweep(state_dir, pid, cache_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
