"""One pass over a run's events into the lookups every correlation detector needs.

Built once per RunView (detectors of one run share it) and linear in the number of events:
processes by pid with their fork/exec/exit times, children per parent, writes and execs per
path, connections per destination, and the DNS names that led to each address.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field

from detonate.detect.interface import RunView
from detonate.model.events import (
    Event,
    FileModeChanged,
    FileOpenedForWrite,
    FileRenamed,
    NetworkConnected,
    ProcessExecuted,
)
from detonate.model.findings import Evidence
from detonate.model.netevents import DnsQueried, HttpRequested, NetEvent, TlsHello
from detonate.model.runtime import FileChange, ProcessInfo
from detonate.model.timeline import ProgramImage, Timeline

SHELLS = frozenset({"sh", "ash", "bash", "dash", "zsh", "ksh", "mksh", "hush", "busybox-sh"})
INTERPRETERS = frozenset({"python", "python2", "python3", "perl", "php", "ruby", "node", "lua"})
CLOCK_SLACK = 0.001  # both clocks are the host's; the simulator sees a flow after connect()
ARGV_SHOWN = 300  # characters of one command line kept in evidence
# A host-local destination is the sample talking to itself (health checks, its own server).
LOOPBACK = re.compile(r"^(127\.|::1$|::ffff:127\.|localhost$|0\.0\.0\.0$)")
# "python3.11" → "python3": interpreter names carry versions.
VERSION_SUFFIX = re.compile(r"(?<=[a-z])[\d.]+$")


def program(argv: tuple[str, ...], exe: str = "", applet: str = "") -> str:
    """The name a process runs as: busybox applet, else argv[0]'s base name, else the exe's."""
    if applet:
        return applet
    name = posixpath.basename(argv[0]) if argv and argv[0] else posixpath.basename(exe)
    return name.removeprefix("-")  # login shells: "-sh"


def is_shell_name(name: str) -> bool:
    return name in SHELLS


def is_interpreter_name(name: str) -> bool:
    return name in INTERPRETERS or VERSION_SUFFIX.sub("", name) in INTERPRETERS


def is_loopback(address: str) -> bool:
    return bool(LOOPBACK.match(address))


def command_line(argv: tuple[str, ...]) -> str:
    text = " ".join(argv)
    return text if len(text) <= ARGV_SHOWN else text[: ARGV_SHOWN - 1] + "…"


@dataclass
class Proc:
    """One process (host pid) over its whole life: a summary of its program images in the
    run's timeline (model/timeline.py), for detectors that look at a pid as a whole. Joins
    that need to know which program did what, and when, use `images` (or the timeline)."""

    pid: int
    ppid: int = 0
    argv: tuple[str, ...] = ()
    exe: str = ""
    applet: str = ""
    forked_at: float | None = None
    fork_seq: int | None = None
    exited_at: float | None = None
    exit_seq: int | None = None
    execs: list[ProcessExecuted] = field(default_factory=list)  # successful and failed
    # fds 0/1 as its last successful exec got them ("pipe:[4711]", a path, a socket); "" in
    # traces recorded before the tracer showed them
    stdin: str = ""
    stdout: str = ""
    images: tuple[ProgramImage, ...] = ()  # in order: a forked copy, then one per exec

    @property
    def name(self) -> str:
        return program(self.argv, self.exe, self.applet)

    @property
    def exec_seqs(self) -> tuple[int, ...]:
        return tuple(e.seq for e in self.execs)

    @property
    def execed(self) -> bool:
        return any(e.succeeded for e in self.execs)


class RunIndex:
    def __init__(self, run: RunView) -> None:
        self.run = run
        self.events = run.events
        self.procs: dict[int, Proc] = {}
        self.children: dict[int, list[int]] = defaultdict(list)
        self.writes: dict[str, list[FileOpenedForWrite]] = defaultdict(list)
        self.writes_by_pid: dict[int, list[FileOpenedForWrite]] = defaultdict(list)
        self.chmods: dict[str, list[FileModeChanged]] = defaultdict(list)
        self.renames: list[FileRenamed] = []
        self.execs_by_path: dict[str, list[ProcessExecuted]] = defaultdict(list)
        self.connections: list[NetworkConnected] = []
        self.connections_by_pid: dict[int, list[NetworkConnected]] = defaultdict(list)
        self._connects_by_dest: dict[tuple[str, int], list[NetworkConnected]] = defaultdict(list)
        self.names_by_ip: dict[str, str] = {}
        self.net_events: list[NetEvent] = []
        self._flow_start: dict[tuple[str, int, str, int], float] = {}
        self._connect_times: dict[tuple[str, int], list[float]] = {}
        self._http_by_pid: dict[int, list[HttpRequested]] | None = None
        self.pipe_readers: dict[str, list[int]] = defaultdict(list)  # "pipe:[7]" → its readers
        self.files: dict[str, FileChange] = {change.path: change for change in run.files}
        # the container's own address and name: traffic to them never leaves it
        own = (*run.run.addresses, run.run.hostname) if run.run is not None else ()
        self.own_addresses = frozenset(a.lower() for a in own if a)
        self.timeline = run.timeline
        for info in run.processes:
            self.procs[info.pid] = _proc_of(info.pid, self.timeline, info)
        for pid in self.timeline.pids:
            if pid not in self.procs:
                self.procs[pid] = _proc_of(pid, self.timeline, None)
        for event in run.events:
            self._take(event)
        for proc in self.procs.values():
            if proc.ppid:  # each pid once (procs is keyed by it): no membership test, which
                self.children[proc.ppid].append(proc.pid)  # was quadratic in a fork storm
            # every program of the pid that had a pipe on fd 0 read it (a shell that later
            # exec'd its last command read it as the shell)
            stdins = dict.fromkeys((proc.stdin, *(i.stdin for i in proc.images if i.execed)))
            for stdin in stdins:
                if stdin.startswith("pipe:"):
                    self.pipe_readers[stdin].append(proc.pid)

    def is_local(self, address: str) -> bool:
        """Loopback, or the container's own address or hostname: the sample talking to
        itself (a health check, a self-scrape), not to the internet."""
        return is_loopback(address) or address.lower() in self.own_addresses

    def _take(self, event: Event) -> None:
        if isinstance(event, ProcessExecuted):
            self.execs_by_path[event.path].append(event)
        elif isinstance(event, FileOpenedForWrite):
            self.writes[event.path].append(event)
            self.writes_by_pid[event.pid].append(event)
        elif isinstance(event, FileModeChanged):
            self.chmods[event.path].append(event)
        elif isinstance(event, FileRenamed):
            self.renames.append(event)
        elif isinstance(event, NetworkConnected):
            if event.family in ("AF_INET", "AF_INET6") and event.port:
                self.connections.append(event)
                self.connections_by_pid[event.pid].append(event)
                self._connects_by_dest[(event.address, event.port)].append(event)
        elif isinstance(event, NetEvent):
            self.net_events.append(event)
            self._flow_start.setdefault(_flow(event), event.ts)
            if isinstance(event, DnsQueried):
                for answer in event.answers:
                    self.names_by_ip.setdefault(answer, event.name)
            elif event.domain and event.dst_ip:
                self.names_by_ip.setdefault(event.dst_ip, event.domain)

    # -- processes -----------------------------------------------------------------------

    def ancestors(self, pid: int) -> list[int]:
        """Pids from the outermost ancestor down to `pid`."""
        out, seen = [pid], {pid}
        while (proc := self.procs.get(out[-1])) and proc.ppid in self.procs:
            if proc.ppid in seen:
                break
            out.append(proc.ppid)
            seen.add(proc.ppid)
        return list(reversed(out))

    def chain(self, pid: int, at: int | None = None) -> tuple[str, ...]:
        """Evidence form of a process chain: each ancestor's command line, outermost first,
        as it was at event `at` (a shell that later exec'd its last command shows the shell)."""
        return tuple(
            f"[{p}] {command_line(self.argv_at(p, at)) or self.procs[p].exe}"
            for p in self.ancestors(pid)
            if p in self.procs
        )

    def image_at(self, pid: int, at: int | None) -> ProgramImage | None:
        """The program image `pid` ran at event `at` (at the end of the run when None)."""
        return self.timeline.last(pid) if at is None else self.timeline.image_at(pid, at)

    def argv_at(self, pid: int, at: int | None) -> tuple[str, ...]:
        """The command line `pid` ran at event `at`: its image's then, never a later exec's
        (a forked shell's `> file` is the shell's, not the command it goes on to exec)."""
        image = self.image_at(pid, at)
        return image.argv if image is not None and image.argv else self.procs[pid].argv

    def descendants(self, pid: int) -> list[int]:
        out, todo = [], deque(self.children.get(pid, ()))
        while todo:
            child = todo.popleft()
            out.append(child)
            todo.extend(self.children.get(child, ()))
        return out

    def is_subshell(self, pid: int) -> bool:
        """A fork that never exec'd: `$( … )`, `( … )`, a pipeline stage running a builtin."""
        proc = self.procs.get(pid)
        return proc is not None and not proc.execs and proc.forked_at is not None

    # -- network -------------------------------------------------------------------------

    def actor(self, event: NetEvent) -> int:
        """The pid behind a simulator event: its own, else the latest connect to its flow."""
        if event.pid:
            return event.pid
        candidates = self._connects_by_dest.get((event.dst_ip, event.dst_port))
        if not candidates:
            return 0
        times = self._connect_times.get((event.dst_ip, event.dst_port))
        if times is None:
            times = self._connect_times[(event.dst_ip, event.dst_port)] = [c.ts for c in candidates]
        # Every event of one flow belongs to whoever connected just before the flow began.
        began = self._flow_start.get(_flow(event), event.ts)
        at = bisect.bisect_right(times, began + CLOCK_SLACK)
        return candidates[max(at - 1, 0)].pid

    def name_for(self, address: str) -> str:
        return self.names_by_ip.get(address, "")

    def destination(self, address: str, port: int, name: str = "") -> str:
        """ "pool.test:3333 (192.0.2.1)", or "192.0.2.1:3333" when no name led there."""
        name = name or self.name_for(address)
        if name and name != address:
            return f"{name}:{port} ({address})"
        return f"{address}:{port}"

    def net_destination(self, event: NetEvent) -> str:
        name = event.domain
        if not name and isinstance(event, HttpRequested):
            name = event.host.rsplit(":", 1)[0] if event.host else event.sni
        if not name and isinstance(event, TlsHello):
            name = event.sni
        return self.destination(event.dst_ip, event.dst_port, name)

    def http_for(self, pid: int) -> list[HttpRequested]:
        """HTTP requests made by `pid` (attributed, or on a flow it connected)."""
        if self._http_by_pid is None:
            self._http_by_pid = defaultdict(list)
            for event in self.net_events:
                if isinstance(event, HttpRequested):
                    self._http_by_pid[self.actor(event)].append(event)
        return self._http_by_pid.get(pid, [])

    # -- files ---------------------------------------------------------------------------

    def file_evidence(
        self, path: str, description: str, event_ids: tuple[int, ...], pid: int = 0
    ) -> Evidence:
        """A file with its hash from the run's filesystem diff (when it is still there)."""
        change = self.files.get(path)
        return Evidence(
            description=description,
            path=path,
            sha256=change.sha256 if change else "",
            event_ids=event_ids,
            process=self.chain(pid, event_ids[0] if event_ids else None) if pid else (),
        )


def _proc_of(pid: int, timeline: Timeline, info: ProcessInfo | None) -> Proc:
    """The pid's summary: the tracer's table, then what each of its images changed."""
    proc = Proc(pid, timeline.ppid(pid), images=timeline.images_of(pid))
    if info is not None:
        proc.argv, proc.exe, proc.applet = info.argv, info.exe, info.applet
        proc.forked_at, proc.stdin, proc.stdout = info.start, info.stdin, info.stdout
    execs: list[ProcessExecuted] = []
    for image in proc.images:
        if image.fork_event is not None:
            proc.forked_at, proc.fork_seq = image.fork_event.ts, image.fork_event.seq
        event = image.exec_event
        if event is not None:
            execs.append(event)
            proc.argv, proc.exe, proc.applet = event.argv, event.exe, event.applet
            proc.stdin, proc.stdout = event.stdin or proc.stdin, event.stdout or proc.stdout
        execs.extend(image.failed_execs)
        if image.exited:
            proc.exited_at, proc.exit_seq = image.end_ts, image.end_seq
    proc.execs = sorted(execs, key=lambda e: e.seq)
    return proc


def _flow(event: NetEvent) -> tuple[str, int, str, int]:
    return (event.src_ip, event.src_port, event.dst_ip, event.dst_port)


def index_of(run: RunView) -> RunIndex:
    """The index of `run`, built once and shared by the detectors that look at the same run.
    Kept on the view itself: a module-level "last run" would hand one scan another's index
    when two scans detect at once, and keep a finished run's events alive."""
    index = run.derived.get("run-index")
    if not isinstance(index, RunIndex):
        index = run.derived["run-index"] = RunIndex(run)
    return index
