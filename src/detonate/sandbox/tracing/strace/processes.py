"""Which thread belongs to which process, and which process is whose child, as the trace shows
them: strace -f prints thread ids, and a child's first line may come before its parent's
clone() result.

    15731 1795814473.922993 clone(child_stack=NULL, flags=CLONE_VM|CLONE_THREAD|…) = 15736
    15731 1795814473.922390 +++ superseded by execve in pid 15740 +++
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detonate.model.runtime import ProcessInfo
from detonate.sandbox.tracing.strace.fds import FdTable


@dataclass
class Proc:
    """One process (thread group) as the trace showed it so far."""

    pid: int
    ppid: int
    exe: str
    argv: tuple[str, ...]
    start: float
    cwd: str
    applet: str = ""
    end: float | None = None
    exit_code: int | None = None
    signal: str = ""
    fds: FdTable = field(default_factory=FdTable)
    binary: str = ""  # the program file the kernel loaded (a script's interpreter)
    stdio: tuple[str, str, str] | None = None  # fds 0/1/2 at the last successful exec
    exe_resolved: str = ""
    exe_sha256: str = ""
    names: list[str] = field(default_factory=list)  # prctl(PR_SET_NAME)
    # Inputs taken so far (exec, connect, accept, read open of a run-written file), and per
    # (fd, what it is) the count at its last DataWritten: later writes fold into that event.
    inputs: int = 0
    write_marks: dict[tuple[int, str], int] = field(default_factory=dict)
    syscalls: int = 0  # traced calls it (any of its threads) made


@dataclass
class ProcessTable:
    """Processes by host pid; threads folded into their thread group."""

    workdir: str = "/"
    t0: float = 0.0  # epoch of the container's start: `Proc.start` is seconds since
    host_names: dict[str, str] = field(default_factory=dict)  # host path → what it is to us
    procs: dict[int, Proc] = field(default_factory=dict)
    thread_group: dict[int, int] = field(default_factory=dict)  # tid → tgid
    parents: dict[int, tuple[int, bool]] = field(default_factory=dict)  # child → (parent, thread)

    def cloned(self, child: int, parent_tid: int, thread: bool) -> None:
        """Learnt before the records are fed: children's lines may precede the clone result."""
        self.parents.setdefault(child, (parent_tid, thread))

    def tgid(self, tid: int) -> int:
        if tid in self.thread_group:
            return self.thread_group[tid]
        parent = self.parents.get(tid)
        if parent is not None and parent[1]:
            tgid = self.tgid(parent[0])
            self.thread_group[tid] = tgid
            return tgid
        return tid

    def get(self, tid: int, ts: float) -> Proc:
        """The process of thread `tid`; a new one (a copy of its parent's) when first seen at
        epoch `ts`."""
        pid = self.tgid(tid)
        proc = self.procs.get(pid)
        if proc is None:
            parent_tid = self.parents.get(pid, (0, False))[0]
            parent = self.procs.get(self.tgid(parent_tid)) if parent_tid else None
            proc = Proc(
                pid=pid,
                ppid=parent.pid if parent else 0,
                exe=parent.exe if parent else "",
                argv=parent.argv if parent else (),
                start=round(max(0.0, ts - self.t0), 6),
                cwd=parent.cwd if parent else self.workdir,
                applet=parent.applet if parent else "",
                fds=parent.fds.copy() if parent else FdTable(self.host_names),
                binary=parent.binary if parent else "",
                exe_resolved=parent.exe_resolved if parent else "",
                exe_sha256=parent.exe_sha256 if parent else "",
            )
            self.procs[pid] = proc
        return proc

    def chain(self, pid: int) -> tuple[int, ...]:
        """Ancestors first, `pid` last."""
        out = [pid]
        seen = {pid}
        while (p := self.procs.get(out[-1])) and p.ppid in self.procs and p.ppid not in seen:
            out.append(p.ppid)
            seen.add(p.ppid)
        return tuple(reversed(out))

    def infos(self) -> tuple[ProcessInfo, ...]:
        return tuple(
            ProcessInfo(
                pid=p.pid,
                ppid=p.ppid,
                exe=p.exe,
                argv=p.argv,
                start=p.start,
                applet=p.applet,
                end=p.end,
                exit_code=p.exit_code,
                signal=p.signal,
                chain=self.chain(p.pid),
                exe_resolved=p.exe_resolved,
                exe_sha256=p.exe_sha256,
                names=tuple(p.names),
                syscalls=p.syscalls,
                **dict(zip(("stdin", "stdout", "stderr"), p.stdio or p.fds.stdio(), strict=True)),
            )
            for p in sorted(self.procs.values(), key=lambda p: (p.start, p.pid))
        )
