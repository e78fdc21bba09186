"""Leftovers of runs whose analyser died (SIGKILL, power cut): found by marker, removed.

Every run writes a state file `<state_dir>/runs/detonate-<id>.json` *before* it creates
anything, naming its owner (pid + start time, so a recycled pid is not mistaken for it), its
container, mounts, tracer pid and cgroup. `sweep()` removes what belongs to dead owners and
leaves live runs (concurrent scans) alone; a dead owner's `runc create` still under way is
killed first, so it cannot make its container after the sweep. Containers in our runc root
without any state file are orphans too (the state file is written first).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from detonate.sandbox.overlay import mounted_paths, unmount
from detonate.sandbox.runc import CONTAINER_PREFIX, Runc

DEFAULT_STATE_DIR = Path("/run/detonate")
CGROUP_ROOT = Path("/sys/fs/cgroup")
KEEPER_DIR_PREFIX = "detonate-tk-"  # never remove a directory not named like ours
WORK_DIR_PREFIX = "detonate-run-"  # + owner pid and start time: see work_dir_prefix()


def _stat_after_name(pid: int) -> list[str]:
    """/proc/PID/stat after the program's name, [] when the process is gone:
    "4242 (python3) S 1 …" → ["S", "1", …]; [0] is the state, [19] field 22, the start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat.rsplit(")", 1)[1].split()


def process_argvs() -> Iterator[tuple[int, list[str]]]:
    """(pid, argv) of every process on the host whose command line can be read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline:  # kernel threads have none
            yield int(entry.name), cmdline.rstrip(b"\0").decode(errors="replace").split("\0")


def process_start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat (clock ticks since boot); 0 when the process is gone."""
    words = _stat_after_name(pid)
    return int(words[19]) if words else 0


def is_alive(pid: int, start_time: int) -> bool:
    """The process with this start time still runs (a zombie has ended: its fds are closed,
    it only waits for its parent to read its exit status)."""
    if pid <= 0 or start_time <= 0:
        return False
    words = _stat_after_name(pid)
    return bool(words) and words[0] not in ("Z", "X") and int(words[19]) == start_time


@dataclass
class RunState:
    container_id: str
    run_dir: str
    owner_pid: int = field(default_factory=os.getpid)
    owner_start: int = field(default_factory=lambda: process_start_time(os.getpid()))
    mounts: list[str] = field(default_factory=list)  # unmount in this order
    tracer_pid: int = 0
    tracer_start: int = 0
    cgroup: str = ""  # "/detonate-…" under every controller
    mount_dir: str = ""  # under the state dir: mount points, removed once unmounted
    keeper_dir: str = ""  # the time keeper's socket directory (/tmp/detonate-tk-…)
    cpus: list[int] = field(default_factory=list)  # where sample and tracer run (cpu_placement)


@dataclass(frozen=True)
class StateDir:
    path: Path = DEFAULT_STATE_DIR

    @property
    def runc(self) -> Runc:
        return Runc(self.path / "runc")

    def _file(self, container_id: str) -> Path:
        return self.path / "runs" / f"{container_id}.json"

    def save(self, state: RunState) -> None:
        target = self._file(state.container_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state)))
        tmp.replace(target)

    def forget(self, container_id: str) -> None:
        self._file(container_id).unlink(missing_ok=True)

    def states(self) -> list[RunState]:
        out = []
        known = {f.name for f in fields(RunState)}
        for path in sorted((self.path / "runs").glob(f"{CONTAINER_PREFIX}*.json")):
            try:
                # Fields another version of detonate added are ignored, not a reason to take
                # its live run for an orphan and delete its container.
                saved = json.loads(path.read_text())
                out.append(RunState(**{k: v for k, v in saved.items() if k in known}))
            except (OSError, ValueError, TypeError, AttributeError):
                continue
        return out

    def sweep(self) -> list[str]:
        """Remove every leftover of dead runs; returns the container ids cleaned."""
        cleaned = []
        # Creates and containers first, then states: a run saves its state before it creates
        # its container, so every container listed here has its state in the listing below,
        # and a run starting meanwhile in another thread of this process is never taken for
        # dead.
        creating = self.runc_creates()
        containers = self.runc.list_ids()
        states = self.states()
        live = {s.container_id for s in states if is_alive(s.owner_pid, s.owner_start)}
        # A `runc create` whose analyser died would make its container after this sweep,
        # for nobody to remove: it is killed first, and what it made is removed below.
        for container_id, process in creating.items():
            if container_id not in live:
                _kill_and_wait(*process)
        for state in states:
            if state.container_id in live:
                continue
            release(self, state)
            cleaned.append(state.container_id)
        for container_id in {*containers, *creating}:
            if container_id.startswith(CONTAINER_PREFIX) and container_id not in live:
                self.runc.delete(container_id)
                remove_cgroup("/" + container_id)
                _remove_runc_state(self, container_id)
                cleaned.append(container_id)
        remove_dead_work_dirs()
        return sorted(set(cleaned))

    def runc_creates(self) -> dict[str, tuple[int, int]]:
        """The `runc create` processes under our runc root: container id → (pid, start)."""
        root = str(self.runc.root)
        found = {}
        for pid, argv in process_argvs():
            # runc --root ROOT --log LOG create --bundle B --pid-file F ID (Runc.create)
            if Path(argv[0]).name != "runc" or "create" not in argv or "--root" not in argv:
                continue
            if argv[argv.index("--root") + 1 :][:1] == [root]:
                found[argv[-1]] = (pid, process_start_time(pid))
        return found


def work_dir_prefix() -> str:
    """`detonate-run-<pid>-<start>-`: a temporary work dir named after its analyser, so the dir
    a SIGKILLed analyser left (in detect, after the run's own state was removed) is found."""
    pid = os.getpid()
    return f"{WORK_DIR_PREFIX}{pid}-{process_start_time(pid)}-"


def remove_dead_work_dirs(parent: Path | None = None) -> list[Path]:
    """Remove the temporary work dirs of dead analysers; returns them."""
    removed = []
    for path in Path(parent or tempfile.gettempdir()).glob(WORK_DIR_PREFIX + "*"):
        # "detonate-run-4242-981234-k2j3h4"
        owner = re.fullmatch(re.escape(WORK_DIR_PREFIX) + r"(\d+)-(\d+)-.*", path.name)
        if owner and path.is_dir() and not is_alive(int(owner[1]), int(owner[2])):
            _remove_unmounted(path)
            removed.append(path)
    return removed


def release(states: StateDir, state: RunState, container_deleted: bool = False) -> None:
    """Tear one run down, in order; every step tolerates 'already gone'. `container_deleted`:
    the run's own `runc delete` succeeded, so the two runc calls here would find nothing."""
    runc = states.runc
    if not container_deleted:
        runc.kill(state.container_id)
        runc.delete(state.container_id)
    if state.tracer_pid and is_alive(state.tracer_pid, state.tracer_start):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.tracer_pid, signal.SIGKILL)
    for mount in state.mounts:
        unmount(Path(mount))
    if state.cgroup:
        remove_cgroup(state.cgroup)
    if state.mount_dir:
        _remove_unmounted(Path(state.mount_dir))
    if Path(state.keeper_dir).name.startswith(KEEPER_DIR_PREFIX):
        shutil.rmtree(state.keeper_dir, ignore_errors=True)
    _remove_runc_state(states, state.container_id)
    states.forget(state.container_id)


def _remove_runc_state(states: StateDir, container_id: str) -> None:
    """runc's own dir of a container whose `runc create` was killed before it wrote the
    container's state: `runc delete` does not know it, so it would stay for good."""
    directory = states.runc.root / container_id
    if container_id.startswith(CONTAINER_PREFIX) and directory.is_dir():
        shutil.rmtree(directory, ignore_errors=True)


def _kill_and_wait(pid: int, start_time: int, seconds: float = 5.0) -> None:
    """SIGKILL the process (if it is still the one that started at `start_time`) and wait,
    up to `seconds`, until it is gone."""
    if not is_alive(pid, start_time):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while is_alive(pid, start_time) and time.monotonic() < deadline:
        time.sleep(0.01)


def remove_cgroup(path: str) -> None:
    """rmdir the run's cgroup under every v1 controller (runc delete normally did it)."""
    name = path.strip("/")
    if not name.startswith(CONTAINER_PREFIX):
        return  # never touch a cgroup that is not ours
    for controller in CGROUP_ROOT.iterdir():
        target = controller / name
        if target.is_dir():
            _kill_tasks(target)
            with contextlib.suppress(OSError):
                target.rmdir()


def _kill_tasks(cgroup: Path) -> None:
    with contextlib.suppress(OSError):
        for line in (cgroup / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line), signal.SIGKILL)


def _remove_unmounted(directory: Path) -> None:
    """rm -r, but only when nothing below is still mounted (never delete through a mount)."""
    prefix = str(directory) + "/"
    if any(p == str(directory) or p.startswith(prefix) for p in mounted_paths()):
        return
    shutil.rmtree(directory, ignore_errors=True)
