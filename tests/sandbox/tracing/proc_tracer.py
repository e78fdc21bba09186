"""A second tracer, to prove the seam: no ptrace and no strace, it polls /proc.

Every POLL_SECONDS it walks the process tree under runc's init (/proc/PID/task/TID/children)
and reports each program it finds running (ProcessExecuted, argv from /proc/PID/cmdline) and
each process that went away (ProcessExited). What lives shorter than a poll is missed; fds,
files and sockets are not seen at all. It is not a tracer for real use: it shows that run.py
and the detectors take any `Tracer` and read only typed events.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from detonate.model.events import Event, ProcessExecuted, ProcessExited
from detonate.model.runtime import ProcessInfo
from detonate.sandbox.tracing.interface import TraceContext, TracerError, TraceSummary

POLL_SECONDS = 0.005


@dataclass
class _Seen:
    ppid: int
    argv: tuple[str, ...]
    start: float  # epoch of the first look that saw it
    end: float | None = None


class ProcTracer:
    name = "proc"

    def __init__(self, run_dir: Path) -> None:
        self._init = 0
        self._runtime_argv: tuple[str, ...] = ()  # "runc init", before the entrypoint's exec
        self._procs: dict[int, _Seen] = {}
        self._events: list[tuple[float, int, tuple[str, ...] | None]] = []  # None: it ended
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, init_pid: int) -> None:
        argv = _cmdline(init_pid)
        if not argv:
            raise TracerError(f"no process {init_pid} to watch")
        self._init, self._runtime_argv = init_pid, argv
        self._thread = threading.Thread(target=self._poll, name="proc-tracer", daemon=True)
        self._thread.start()

    def pid(self) -> int:
        return 0  # a thread of the analyser: nothing to kill after a crash

    def running(self) -> bool:
        return _state(self._init) not in ("", "Z", "X")

    def activity(self) -> int:
        return len(self._events)

    def effects(self) -> int:
        return len(self._events)  # program starts and exits are all it sees

    def limit_reached(self) -> bool:
        return False

    def stop(self, grace_seconds: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(grace_seconds)

    def summary(self, context: TraceContext) -> TraceSummary:
        def ts(epoch: float) -> float:
            return round(max(0.0, epoch - context.t0), 6)

        events: list[Event] = []
        for seq, (when, pid, argv) in enumerate(self._events):
            proc = self._procs[pid]
            common = dict(seq=seq, ts=ts(when), pid=pid, ppid=proc.ppid)
            if argv is None:
                events.append(ProcessExited(**common, exe=proc.argv[0], argv=proc.argv))
            else:
                events.append(ProcessExecuted(**common, exe=argv[0], argv=argv, path=argv[0]))
        processes = tuple(
            ProcessInfo(
                pid=pid,
                ppid=p.ppid,
                exe=p.argv[0],
                argv=p.argv,
                start=ts(p.start),
                end=ts(p.end) if p.end is not None else None,
                chain=self._chain(pid),
            )
            for pid, p in sorted(self._procs.items())
        )
        return TraceSummary(
            events=tuple(events),
            processes=processes,
            parse_errors=0,
            lines_lost=0,
            unparsed_samples=(),
            runtime_setup_lines=0,
            skipped_sleep_seconds=0.0,
            init_exit_code=None,
            executed_paths=frozenset(p.argv[0] for p in self._procs.values()),
        )

    def _chain(self, pid: int) -> tuple[int, ...]:
        out = [pid]
        while (p := self._procs.get(out[-1])) and p.ppid in self._procs and p.ppid not in out:
            out.append(p.ppid)
        return tuple(reversed(out))

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._look()
            time.sleep(POLL_SECONDS)
        self._look()

    def _look(self) -> None:
        now = time.time()
        alive = _tree(self._init)
        for pid, ppid in alive.items():
            argv = _cmdline(pid)
            if not argv or (pid == self._init and argv == self._runtime_argv):
                continue  # gone between the two reads, or still runc's own init
            seen = self._procs.get(pid)
            if seen is None or seen.end is not None:  # new, or its pid used again
                parent = self._procs.get(ppid)
                seen = self._procs[pid] = _Seen(ppid if pid != self._init else 0, argv, now)
                if parent is not None and parent.argv == argv:
                    continue  # forked, not (yet) exec'd: the parent's program
            elif seen.argv == argv:
                continue
            seen.argv = argv
            self._events.append((now, pid, argv))
        for pid, seen in self._procs.items():
            if seen.end is None and pid not in alive:
                seen.end = now
                self._events.append((now, pid, None))


def _tree(init: int) -> dict[int, int]:
    """pid → parent pid of `init` and every descendant alive now."""
    out: dict[int, int] = {}
    todo = [(init, 0)]
    while todo:
        pid, ppid = todo.pop()
        if pid in out or _state(pid) in ("", "Z", "X"):
            continue
        out[pid] = ppid
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            todo.extend((int(child), pid) for child in children)
    return out


def _cmdline(pid: int) -> tuple[str, ...]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1])


def _state(pid: int) -> str:
    """ "R", "S", "Z" … from /proc/PID/stat; "" when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rfind(")") + 2 :][:1]
