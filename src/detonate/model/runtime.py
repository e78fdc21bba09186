"""What a sandbox run hands on: events, the process table, the filesystem diff, how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from detonate.model.events import Event


@dataclass(frozen=True)
class ProcessInfo:
    """One process of the run (host pids; the sample saw its own pid namespace)."""

    pid: int
    ppid: int  # 0 for the container's init
    exe: str  # the program running at the end (after the last successful exec)
    argv: tuple[str, ...]
    start: float  # seconds since the container started
    applet: str = ""  # busybox applet when exe is a multi-call binary
    end: float | None = None
    exit_code: int | None = None
    signal: str = ""  # killed by this signal
    chain: tuple[int, ...] = ()  # ancestor pids, outermost first, ending with `pid`
    # fds 0/1/2 as its last successful exec left them (see ProcessExecuted.stdin); for a
    # process that never exec'd (a forked shell running builtins), as they were at its end.
    stdin: str = ""
    stdout: str = ""
    stderr: str = ""
    exe_resolved: str = ""  # see ProcessExecuted.exe_resolved (last successful exec)
    exe_sha256: str = ""
    names: tuple[str, ...] = ()  # prctl(PR_SET_NAME) names it gave itself, in order
    # system calls the tracer saw it make (0 when the tracer does not count them): a process
    # that makes thousands a second for its whole life is busy, whatever its CPU time under
    # tracing says (each traced call stops it for the tracer)
    syscalls: int = 0


class ChangeKind(StrEnum):
    CREATED = "created"
    MODIFIED = "modified"
    DELETED = "deleted"


class ContentType(StrEnum):
    ELF = "elf"
    SCRIPT = "script"
    ARCHIVE = "archive"
    OTHER = "other"
    DIR = "dir"
    SYMLINK = "symlink"
    NONE = "none"  # deleted, or not a regular file


@dataclass(frozen=True)
class FileChange:
    path: str  # inside the container: "/tmp/payload"
    change: ChangeKind
    content_type: ContentType
    size: int = 0
    mode: int = 0
    sha256: str = ""  # regular files only
    executed: bool = False  # a successful exec named this path
    artifact: str = ""  # file name under RunResult.artifacts_dir, "" when not copied
    artifact_truncated: bool = False  # larger than the per-file cap: only the head was kept
    link_target: str = ""


@dataclass(frozen=True)
class Honeytoken:
    """Bait the sandbox planted in the run's rootfs before the sample started.

    A read of `path` is a `FileOpenedForRead` event; `marker` is text only this run's token
    contains, so finding it in a network payload proves the token left the container.
    """

    path: str  # inside the container: "/root/.aws/credentials"
    kind: str  # "aws-credentials", "ssh-private-key", "kube-token", "docker-config", …
    marker: str  # "" for companion files (the kube namespace and CA) that carry no secret


@dataclass(frozen=True)
class HostMount:
    """A host bind the sample asked for, served from the run's fake host tree: `source` is the
    host path it named ("/"), `destination` where the container sees it ("/host")."""

    source: str
    destination: str
    read_only: bool = False

    def host_path(self, path: str) -> str | None:
        """The host path a container path under `destination` stands for; None outside."""
        dest = self.destination.rstrip("/")
        if path != dest and not path.startswith(dest + "/"):
            return None
        rest = path[len(dest) :].lstrip("/")
        return "/" + "/".join(p for p in (self.source.strip("/"), rest) if p)


class RunStatus(StrEnum):
    COMPLETED = "completed"  # the sample ran; `ended_by` says why it stopped
    ERROR = "error"  # the sandbox could not run it; `error` says why


class EndReason(StrEnum):
    EXITED = "exited"  # the entrypoint (container init) exited
    TIMEOUT = "timeout"
    IDLE = "idle"  # no new trace output and no CPU use for idle_seconds
    TRACE_LIMIT = "trace-limit"  # the trace file reached its size cap
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM of the analyser
    ERROR = "error"


@dataclass(frozen=True)
class RunInfo:
    status: RunStatus
    ended_by: EndReason
    duration_seconds: float
    events: int
    parse_errors: int = 0  # trace lines we could not parse (kept in the trace artifact)
    lines_lost: int = 0  # trace lines cut off (trace cap, tracer killed mid-line)
    runtime_setup_lines: int = 0  # lines from runc's own init before the entrypoint's exec
    skipped_sleep_seconds: float = 0.0  # sample time the time keeper jumped over
    # (pid, seconds) the process's compressed waits skipped, largest first
    skipped_by_process: tuple[tuple[int, float], ...] = ()
    exit_code: int | None = None  # of the container init, when it exited
    cpu_seconds: float = 0.0  # CPU time the container used (cgroup cpuacct)
    memory_peak_bytes: int = 0  # cgroup memory high-water mark (tmpfs pages of its disk count)
    error: str = ""
    limits: tuple[tuple[str, str], ...] = ()  # ("memory", "536870912"), … as applied
    # the limits the sample ran into: "memory", "pids", "cpu", "disk", "inodes", "output"
    limits_hit: tuple[str, ...] = ()
    hostname: str = ""  # the container's ("3f2a9c1d7e0b"): its UTS name and /etc/hosts entry
    # The container's own addresses besides loopback ("10.131.7.2"): traffic to them is local
    addresses: tuple[str, ...] = ()
    # Wall seconds of the sandbox's phases, in order: ("setup", 0.41), ("run", 2.1),
    # ("collect", 0.05), ("teardown", 0.08); the sandbox's own cost is all but "run"
    phase_seconds: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class RunResult:
    events: tuple[Event, ...]
    processes: tuple[ProcessInfo, ...]
    files: tuple[FileChange, ...]
    run: RunInfo
    artifacts_dir: Path | None = field(default=None, compare=False)
    honeytokens: tuple[Honeytoken, ...] = ()
    host_mounts: tuple[HostMount, ...] = ()  # binds served from the fake host tree
