"""Build event streams by hand: each call appends one event with the next seq and time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from detonate.detect.interface import RunView
from detonate.model.events import (
    Event,
    FileModeChanged,
    FileOpenedForWrite,
    NetworkConnected,
    ProcessExecuted,
    ProcessExited,
    ProcessForked,
)
from detonate.model.runtime import FileChange, Honeytoken, RunInfo


@dataclass
class Stream:
    events: list[Event] = field(default_factory=list)
    argv: dict[int, tuple[str, ...]] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)
    ts: float = 0.0
    files: list[FileChange] = field(default_factory=list)
    honeytokens: list[Honeytoken] = field(default_factory=list)
    run: RunInfo | None = None

    def add(self, cls: type[Event], pid: int, step: float = 0.001, **fields: Any) -> Event:
        self.ts = round(self.ts + step, 6)
        event = cls(
            seq=len(self.events),
            ts=fields.pop("ts", self.ts),
            pid=pid,
            ppid=self.parent.get(pid, 0),
            argv=fields.pop("argv", self.argv.get(pid, ())),
            **fields,
        )
        self.events.append(event)
        return event

    def fork(self, parent: int, child: int) -> None:
        self.parent[child] = parent
        self.argv[child] = self.argv.get(parent, ())
        self.add(ProcessForked, parent, child_pid=child)

    def exec(
        self,
        pid: int,
        *argv: str,
        path: str = "",
        ok: bool = True,
        stdin: str = "",
        stdout: str = "",
    ) -> None:
        """`stdin`/`stdout` as the tracer shows them ("pipe:[7]"); "" as older traces do."""
        if ok:
            self.argv[pid] = argv
        self.add(
            ProcessExecuted,
            pid,
            path=path or f"/usr/bin/{argv[0]}",
            succeeded=ok,
            error="" if ok else "ENOENT",
            argv=argv,  # a failed exec is reported with the argv it tried
            stdin=stdin,
            stdout=stdout,
        )

    def spawn(
        self, parent: int, child: int, *argv: str, path: str = "", stdin: str = "", stdout: str = ""
    ) -> None:
        self.fork(parent, child)
        self.exec(child, *argv, path=path, stdin=stdin, stdout=stdout)

    def exit(self, pid: int, signal: str = "") -> None:
        self.add(ProcessExited, pid, exit_code=None if signal else 0, signal=signal)

    def connect(self, pid: int, address: str, port: int, ok: bool = True) -> None:
        self.add(
            NetworkConnected,
            pid,
            family="AF_INET",
            protocol="TCP",
            address=address,
            port=port,
            succeeded=ok,
            error="" if ok else "ECONNREFUSED",
        )

    def write(self, pid: int, path: str) -> None:
        self.add(FileOpenedForWrite, pid, path=path, flags="O_WRONLY|O_CREAT|O_TRUNC")

    def chmod(self, pid: int, path: str, mode: int = 0o755) -> None:
        self.add(FileModeChanged, pid, path=path, mode=mode)

    def view(self) -> RunView:
        return RunView(
            events=tuple(self.events),
            files=tuple(self.files),
            honeytokens=tuple(self.honeytokens),
            run=self.run,
        )
