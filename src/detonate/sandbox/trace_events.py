"""Syscall records → ordered typed events and the process table.

Meaning lives here: which calls are writes, which pid is whose child, what `/proc/self/exe`
really was, what each process's fds 0/1/2 are (pipes, sockets, files), how long a skipped sleep
asked to wait. Lines of runc's own init (before the entrypoint's first exec) are runtime noise:
counted, not reported.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detonate.model.events import (
    Event,
    FileAttributesChanged,
    FileCreated,
    FileDeleted,
    FileModeChanged,
    FileOpenedForRead,
    FileOpenedForWrite,
    FileRenamed,
    NetworkBound,
    NetworkConnected,
    NetworkEvent,
    NetworkListened,
    NetworkSent,
    PrivilegedAttempt,
    ProcessExecuted,
    ProcessExited,
    ProcessForked,
    ProcessRenamed,
    SignalSent,
    SleepSkipped,
    WaitPending,
    WaitTimedOut,
)
from detonate.model.runtime import ProcessInfo
from detonate.sandbox.programs import ProgramResolver
from detonate.sandbox.strace_lines import (
    Exit,
    Lost,
    Record,
    SignalDelivered,
    Superseded,
    Syscall,
    Unparsed,
    fd_annotation,
    read_records,
    split_args,
    string_list,
    unquote,
)

PRIVILEGED_CALLS = frozenset(
    {
        "mount",
        "umount2",
        "ptrace",
        "init_module",
        "finit_module",
        "delete_module",
        "setns",
        "unshare",
        "bpf",
        "memfd_create",
        "execveat",
        "keyctl",
        "add_key",
        "request_key",
        "chroot",
        "pivot_root",
        "reboot",
        "kexec_load",
        "kexec_file_load",
        "open_by_handle_at",
        "process_vm_writev",
        "personality",
    }
)
EXEC_CALLS = ("execve", "execveat")
FORK_CALLS = ("clone", "clone3", "fork", "vfork")
OPEN_CALLS = ("open", "openat", "openat2", "creat")
# Sleeps and timed waits are the time keeper's (sandbox/timekeeper), not traced by strace any
# more; their lines are still read in traces recorded with strace --inject (the corpus).
SLEEP_CALLS = ("nanosleep", "clock_nanosleep")
# call → index of the timeout argument.
WAIT_CALLS: dict[str, int] = {
    "poll": 2,
    "ppoll": 2,
    "select": 4,
    "pselect6": 4,
    "epoll_wait": 3,
    "epoll_pwait": 3,
    "epoll_pwait2": 3,
}
PR_SET_NAME = "PR_SET_NAME"
FILE_CALLS = (
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "chmod",
    "fchmod",
    "fchmodat",
    "mkdir",
    "mkdirat",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "mknod",
    "mknodat",
    "chdir",
    "fchdir",
)
NET_CALLS = ("socket", "connect", "bind", "listen", "sendto", "sendmsg", "sendmmsg")
# write/writev are traced raw (no buffer contents: `yes > /dev/null` would write 100 MB/s of
# trace); what each fd is (socket, pipe, file) is followed through the opens and the calls
# below, which strace shows -yy. read is not traced at all.
WRITE_CALLS = ("write", "writev")
FD_CALLS = (
    "close",
    "close_range",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "accept",
    "accept4",
    "pipe",
    "pipe2",
    "socketpair",
)
SIGNAL_CALLS = ("kill", "tkill", "tgkill")
TRACED_CALLS: tuple[str, ...] = (
    EXEC_CALLS
    + FORK_CALLS
    + OPEN_CALLS
    + FILE_CALLS
    + NET_CALLS
    + WRITE_CALLS
    + FD_CALLS
    + ("ioctl",)
    + SIGNAL_CALLS
    + ("prctl",)
    + tuple(sorted(PRIVILEGED_CALLS - set(EXEC_CALLS)))
)
SETFLAGS_IOCTLS = ("FS_IOC_SETFLAGS", "FS_IOC32_SETFLAGS")
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
MULTI_CALL_BINARIES = frozenset({"busybox", "toybox"})
SELF_EXE = "/proc/self/exe"
# fexecve(): the program is whatever the fd is ("/tmp/x", "/memfd:payload (deleted)").
FD_PATH = re.compile(r"^/(?:proc/self|dev)/fd/(\d+)$")
# The file runc gave the container as stdout/stderr (the run's output.log on the host).
CONTAINER_OUTPUT = "container-output"


@dataclass
class _Socket:
    """One socket as far as the trace showed it; dup'ed and inherited fds share the object."""

    protocol: str  # "TCP", "UDPv6", "UNIX" …
    family: str = ""
    address: str = ""  # the peer (connect's address, or the 4-tuple's remote end)
    port: int = 0
    local_address: str = ""
    local_port: int = 0
    waiting: list[int] = field(default_factory=list)  # events to fill once the local end shows
    annotation: str = ""  # strace's richest -yy rendering so far: "TCP:[10.0.0.2:1->192.0.2.1:80]"

    def describe(self) -> str:
        """As ProcessExecuted.stdin shows it: "socket:TCP:[10.0.0.2:40000->192.0.2.1:4444]"."""
        text = self.annotation or f"{self.protocol}:[]"
        if "->" not in text and self.address:
            kind = text.split(":[", 1)[0] if ":[" in text else self.protocol
            local = _endpoint_text(self.local_address, self.local_port) if self.local_port else "?"
            text = f"{kind}:[{local}->{_endpoint_text(self.address, self.port)}]"
        return "socket:" + text


@dataclass
class _Proc:
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
    sockets: dict[int, _Socket] = field(default_factory=dict)  # fd → socket
    fds: dict[int, str] = field(default_factory=dict)  # fd → "pipe:[12]", "/dev/null" (not sockets)
    cloexec: set[int] = field(default_factory=set)  # fds an exec closes
    binary: str = ""  # the program file the kernel loaded (a script's interpreter)
    stdio: tuple[str, str, str] | None = None  # fds 0/1/2 at the last successful exec
    exe_resolved: str = ""
    exe_sha256: str = ""
    names: list[str] = field(default_factory=list)  # prctl(PR_SET_NAME)


@dataclass(frozen=True)
class TraceSummary:
    events: tuple[Event, ...]
    processes: tuple[ProcessInfo, ...]
    parse_errors: int
    lines_lost: int  # cut off at the end of the trace, or a call whose start was never written
    unparsed_samples: tuple[str, ...]  # the first few unparsable lines, for the report/debugging
    runtime_setup_lines: int
    skipped_sleep_seconds: float
    init_exit_code: int | None
    executed_paths: frozenset[str]  # every path a successful exec ran (container view)


@dataclass
class TraceInterpreter:
    """Feed records in trace order; `summary()` at the end.

    `init_pid` is the host pid of runc's init (it becomes the entrypoint at its first exec).
    `t0` is the epoch time the container started; event timestamps are relative to it.
    """

    init_pid: int
    t0: float
    workdir: str = "/"
    sleep_threshold: float = 1.0  # sleeps at least this long are reported as SleepSkipped
    sleep_floor: float = 0.0  # what an injected sleep still costs (strace delay_exit)
    init_exe: str = ""
    watched: Mapping[str, str] = field(default_factory=dict)  # path → honeytoken kind
    # The init's fds 0-2 as /proc/PID/fd showed them at attach ("/dev/null", a host file).
    init_fds: Mapping[int, str] = field(default_factory=dict)
    rootfs: Path | None = None  # the run's rootfs, to resolve scripts and /proc/self/exe
    events: list[Event] = field(default_factory=list)
    procs: dict[int, _Proc] = field(default_factory=dict)
    thread_group: dict[int, int] = field(default_factory=dict)  # tid → tgid
    parents: dict[int, tuple[int, bool]] = field(default_factory=dict)  # child → (parent, thread)
    parse_errors: int = 0
    lines_lost: int = 0
    unparsed: list[str] = field(default_factory=list)
    setup_lines: int = 0
    started: bool = False
    skipped: float = 0.0
    init_exit: int | None = None
    executed: set[str] = field(default_factory=set)
    host_names: dict[str, str] = field(default_factory=dict)  # host path → what it is to us
    programs: ProgramResolver = field(init=False)

    def __post_init__(self) -> None:
        self.programs = ProgramResolver(self.rootfs)
        for link in self.init_fds.values():
            if link.startswith("/") and link != "/dev/null":
                self.host_names[link] = CONTAINER_OUTPUT  # runc's stdio: the run's output log

    # -- driving ---------------------------------------------------------------------------

    def feed_lines(self, lines: Iterable[str]) -> None:
        records = list(read_records(lines))
        # Children's first lines may precede the parent's clone result: learn parentage first.
        for r in records:
            if isinstance(r, Syscall) and r.name in FORK_CALLS and (r.ret_host_pid or 0) > 0:
                assert r.ret_host_pid is not None
                self.parents.setdefault(r.ret_host_pid, (r.pid, "CLONE_THREAD" in r.raw_args))
        for r in records:
            self.feed(r)

    def feed(self, record: Record) -> None:
        if isinstance(record, Lost):
            self.lines_lost += 1
            return
        if isinstance(record, Unparsed):
            self.parse_errors += 1
            if len(self.unparsed) < 20:
                self.unparsed.append(record.line[:500])
            return
        if not self.started:
            if isinstance(record, Syscall) and record.name in EXEC_CALLS and self._is_init(record):
                self.started = True
                self.thread_group.clear()
                self.procs[self.init_pid] = _Proc(
                    self.init_pid,
                    0,
                    self.init_exe,
                    (),
                    self._ts(record.ts),
                    self.workdir,
                    fds={fd: self._describe(link) for fd, link in self.init_fds.items()},
                    binary=self.programs.binary(self.init_exe),
                )
            else:
                self.setup_lines += 1
                return
        if isinstance(record, Syscall):
            self._syscall(record)
        elif isinstance(record, Exit):
            self._exit(record)
        elif isinstance(record, Superseded):
            self.thread_group[record.former_tid] = record.pid
        elif isinstance(record, SignalDelivered):
            pass  # the sender's kill() is the event; "+++ killed by +++" ends the process

    def summary(self) -> TraceSummary:
        def chain(pid: int) -> tuple[int, ...]:
            out = [pid]
            seen = {pid}
            while (p := self.procs.get(out[-1])) and p.ppid in self.procs and p.ppid not in seen:
                out.append(p.ppid)
                seen.add(p.ppid)
            return tuple(reversed(out))

        processes = tuple(
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
                chain=chain(p.pid),
                exe_resolved=p.exe_resolved,
                exe_sha256=p.exe_sha256,
                names=tuple(p.names),
                **dict(zip(("stdin", "stdout", "stderr"), p.stdio or self._stdio(p), strict=True)),
            )
            for p in sorted(self.procs.values(), key=lambda p: (p.start, p.pid))
        )
        return TraceSummary(
            events=tuple(self.events),
            processes=processes,
            parse_errors=self.parse_errors,
            lines_lost=self.lines_lost,
            unparsed_samples=tuple(self.unparsed),
            runtime_setup_lines=self.setup_lines,
            skipped_sleep_seconds=round(self.skipped, 3),
            init_exit_code=self.init_exit,
            executed_paths=frozenset(self.executed),
        )

    # -- helpers ---------------------------------------------------------------------------

    def _is_init(self, r: Syscall) -> bool:
        return r.pid == self.init_pid or self.thread_group.get(r.pid) == self.init_pid

    def _ts(self, ts: float) -> float:
        return round(max(0.0, ts - self.t0), 6)

    def _tgid(self, tid: int) -> int:
        if tid in self.thread_group:
            return self.thread_group[tid]
        parent = self.parents.get(tid)
        if parent is not None and parent[1]:
            tgid = self._tgid(parent[0])
            self.thread_group[tid] = tgid
            return tgid
        return tid

    def _proc(self, tid: int, ts: float) -> _Proc:
        pid = self._tgid(tid)
        proc = self.procs.get(pid)
        if proc is None:
            parent_tid = self.parents.get(pid, (0, False))[0]
            parent = self.procs.get(self._tgid(parent_tid)) if parent_tid else None
            proc = _Proc(
                pid=pid,
                ppid=parent.pid if parent else 0,
                exe=parent.exe if parent else "",
                argv=parent.argv if parent else (),
                start=self._ts(ts),
                cwd=parent.cwd if parent else self.workdir,
                applet=parent.applet if parent else "",
                sockets=dict(parent.sockets) if parent else {},
                fds=dict(parent.fds) if parent else {},
                cloexec=set(parent.cloexec) if parent else set(),
                binary=parent.binary if parent else "",
                exe_resolved=parent.exe_resolved if parent else "",
                exe_sha256=parent.exe_sha256 if parent else "",
            )
            self.procs[pid] = proc
        return proc

    def _emit(self, cls: type[Event], proc: _Proc, ts: float, **fields: Any) -> int:
        """Append the event; returns its index."""
        self.events.append(
            cls(
                seq=len(self.events),
                ts=self._ts(ts),
                pid=proc.pid,
                ppid=proc.ppid,
                exe=proc.exe,
                argv=proc.argv,
                **fields,
            )
        )
        return len(self.events) - 1

    def _path(self, proc: _Proc, path_arg: str, dirfd_arg: str = "") -> str:
        path = unquote(path_arg)
        if path.startswith("/"):
            return posixpath.normpath(path)
        base = fd_annotation(dirfd_arg)[1] if dirfd_arg else ""
        return posixpath.normpath(posixpath.join(base or proc.cwd, path))

    # -- per call --------------------------------------------------------------------------

    def _syscall(self, r: Syscall) -> None:
        proc = self._proc(r.pid, r.ts)
        ok, err = r.succeeded, r.errno
        name, a = r.name, r.args
        if name in EXEC_CALLS:
            self._exec(proc, r)
        elif name in FORK_CALLS:
            child = r.ret_host_pid if ok and r.ret_host_pid and r.ret_host_pid > 0 else 0
            if child and "CLONE_THREAD" in r.raw_args:
                self.thread_group[child] = proc.pid
            elif child or not ok:
                self._emit(ProcessForked, proc, r.ts, child_pid=child, succeeded=ok, error=err)
                if child:
                    self._proc(child, r.ts)
        elif name in OPEN_CALLS:
            self._open(proc, r)
        elif name in SLEEP_CALLS:
            self._sleep(proc, r)
        elif name in WAIT_CALLS:
            self._wait(proc, r)
        elif name == "prctl":
            self._prctl(proc, r)
        elif name in NET_CALLS:
            self._net(proc, r)
        elif name in WRITE_CALLS:
            self._write(proc, r)
        elif name in FD_CALLS:
            self._fd(proc, r)
        elif name == "ioctl":
            self._ioctl(proc, r)
        elif name == "memfd_create" and ok and r.ret is not None:
            self._forget_fd(proc, r.ret)  # "/memfd:payload (deleted)", for fexecve
            proc.fds[r.ret] = self._describe(r.ret_annotation) or "/memfd:" + unquote(a[0])
            if "MFD_CLOEXEC" in r.raw_args:
                proc.cloexec.add(r.ret)
        elif name in SIGNAL_CALLS and len(a) >= 2:
            target = _int(a[1] if name == "tgkill" else a[0])
            host = _host_pid(a[0])  # kill: the pid, tgkill: the thread group, tkill: a thread
            if host > 0 and name == "tkill":
                host = self._tgid(host)
            self._emit(
                SignalSent,
                proc,
                r.ts,
                target_pid=target,
                signal=a[-1],
                succeeded=ok,
                error=err,
                target_host_pid=max(host, 0),
            )
        elif name in FILE_CALLS:
            self._file(proc, r)
        if name in PRIVILEGED_CALLS:
            self._emit(
                PrivilegedAttempt, proc, r.ts, call=name, args=r.raw_args, succeeded=ok, error=err
            )

    def _exec(self, proc: _Proc, r: Syscall) -> None:
        a = r.args
        if r.name == "execveat":
            dirfd, path_arg, argv_arg = (*a, "", "", "")[:3]
            path = unquote(path_arg)
            if not path and "AT_EMPTY_PATH" in r.raw_args:
                path = fd_annotation(dirfd)[1]  # fileless: "/memfd:x (deleted)"
            elif path:
                path = self._path(proc, path_arg, dirfd)
        else:
            path_arg, argv_arg = (*a, "", "")[:2]
            path = self._path(proc, path_arg)
        argv = string_list(argv_arg)
        exe, binary = self._program(proc, path)
        applet = ""
        if (
            path == SELF_EXE
            or posixpath.basename(self.programs.real_path(exe)) in MULTI_CALL_BINARIES
        ):
            # busybox's own rule: argv[0]'s file name, a login shell's "-" dropped
            first = posixpath.basename(argv[0].removeprefix("-")) if argv else ""
            applet = argv[1] if first in MULTI_CALL_BINARIES and len(argv) > 1 else first
        if r.succeeded:
            proc.exe, proc.argv, proc.applet, proc.binary = exe, argv, applet, binary
            for fd in proc.cloexec:
                proc.sockets.pop(fd, None)
                proc.fds.pop(fd, None)
            proc.cloexec.clear()
            proc.stdio = self._stdio(proc)
            proc.exe_resolved = self.programs.real_path(exe)
            proc.exe_sha256 = self.programs.sha256(exe)
            self.executed.add(exe)
            stdio = dict(zip(("stdin", "stdout", "stderr"), proc.stdio, strict=True))
            self._emit(
                ProcessExecuted,
                proc,
                r.ts,
                path=path,
                applet=applet,
                exe_resolved=proc.exe_resolved,
                exe_sha256=proc.exe_sha256,
                **stdio,
            )
        else:
            if r.errno == "ENOEXEC":
                self.executed.add(path)  # shells then run it as a script ("ash /tmp/x")
            # A failed exec leaves the old program running: report the attempt's own argv.
            fds = self._stdio(proc)
            self.events.append(
                ProcessExecuted(
                    seq=len(self.events),
                    ts=self._ts(r.ts),
                    pid=proc.pid,
                    ppid=proc.ppid,
                    exe=proc.exe,
                    argv=argv,
                    path=path,
                    applet=applet,
                    succeeded=False,
                    error=r.errno,
                    stdin=fds[0],
                    stdout=fds[1],
                    stderr=fds[2],
                )
            )

    def _program(self, proc: _Proc, path: str) -> tuple[str, str]:
        """(exe, binary) an exec of `path` runs: see ProcessExecuted.exe; `binary` is the file
        the kernel loads (for a script, its interpreter)."""
        if path == SELF_EXE:
            binary = proc.binary or proc.exe
            return (self.programs.real_path(binary) if binary else path), binary
        fd_path = FD_PATH.match(path)
        if fd_path is not None:
            fd = int(fd_path[1])
            behind = "" if fd in proc.sockets else proc.fds.get(fd, "")
            if behind.startswith("/"):
                return behind, self.programs.binary(behind)
        return path, self.programs.binary(path)

    def _stdio(self, proc: _Proc) -> tuple[str, str, str]:
        def describe(fd: int) -> str:
            sock = proc.sockets.get(fd)
            return sock.describe() if sock is not None else proc.fds.get(fd, "")

        return describe(0), describe(1), describe(2)

    def _describe(self, annotation: str) -> str:
        """-yy fd annotation → fd description: "/dev/null<char 1:3>" → "/dev/null"."""
        text = _DEVICE_NUMBERS.sub("", annotation)
        return self.host_names.get(text, text)

    def _open(self, proc: _Proc, r: Syscall) -> None:
        a = r.args
        if r.name == "creat":
            path_arg, dirfd, flags = a[0] if a else "", "", "O_WRONLY|O_CREAT|O_TRUNC"
        elif r.name == "open":
            path_arg, dirfd, flags = (*a, "", "")[0], "", (*a, "", "")[1]
        else:
            dirfd, path_arg, flags = (*a, "", "", "")[:3]
            if r.name == "openat2":
                m = re.search(r"flags=([\w|]+)", flags)
                flags = m[1] if m else flags
        path = requested = self._path(proc, path_arg, dirfd)
        if r.succeeded and r.ret is not None:
            self._forget_fd(proc, r.ret)
            proc.fds[r.ret] = self._describe(r.ret_annotation) if r.ret_annotation else path
            if "O_CLOEXEC" in flags:
                proc.cloexec.add(r.ret)
            # openat(…, "/tmp/.k/authorized_keys", …) = 3</root/.ssh/authorized_keys>: the
            # file the kernel opened, through any symlink, is what rules judge
            opened = proc.fds[r.ret]
            if opened.startswith("/") and opened != path and "(deleted)" not in opened:
                path = opened
        ok, err = r.succeeded, r.errno
        moved = {"requested_path": requested} if path != requested else {}
        token = self.watched.get(path) or self.watched.get(requested)
        if token and "O_WRONLY" not in flags:
            self._emit(
                FileOpenedForRead,
                proc,
                r.ts,
                path=path if path in self.watched else requested,
                flags=flags,
                honeytoken=token,
                succeeded=ok,
                error=err,
                **moved,
            )
        if not any(f in flags for f in WRITE_FLAGS):
            return
        self._emit(
            FileOpenedForWrite,
            proc,
            r.ts,
            path=path,
            flags=flags,
            created="O_CREAT" in flags,
            succeeded=ok,
            error=err,
            **moved,
        )
        if path.startswith(("/proc/", "/sys/")):
            self._emit(
                PrivilegedAttempt, proc, r.ts, call="write", args=path, succeeded=ok, error=err
            )

    def _sleep(self, proc: _Proc, r: Syscall) -> None:
        if not r.injected:
            return
        m = re.search(r"\{tv_sec=(\d+), tv_nsec=(\d+)\}", r.raw_args)
        if m is None:
            return
        requested = int(m[1]) + int(m[2]) / 1e9
        if "TIMER_ABSTIME" in r.raw_args:
            requested = max(0.0, requested - r.ts) if "CLOCK_REALTIME" in r.raw_args else 0.0
        if requested >= self.sleep_threshold:
            self.skipped += max(0.0, requested - self.sleep_floor)
            self._emit(SleepSkipped, proc, r.ts, call=r.name, requested_seconds=requested)

    def _wait(self, proc: _Proc, r: Syscall) -> None:
        """poll(…, 1, 600000) = 0 (Timeout): a timed wait ran out; ret None: still pending."""
        requested = wait_timeout(r.name, r.args)
        if requested is None or requested < self.sleep_threshold:
            return
        if r.ret == 0:
            self._emit(WaitTimedOut, proc, r.ts, call=r.name, requested_seconds=requested)
        elif r.ret is None and not r.errno:
            self._emit(WaitPending, proc, r.ts, call=r.name, requested_seconds=requested)

    def _prctl(self, proc: _Proc, r: Syscall) -> None:
        """prctl(PR_SET_NAME, "kworker/0:1") = 0"""
        if len(r.args) < 2 or r.args[0] != PR_SET_NAME:
            return
        name = unquote(r.args[1])
        if r.succeeded:
            proc.names.append(name)
        program = posixpath.basename(self.programs.real_path(proc.binary or proc.exe))
        self._emit(
            ProcessRenamed,
            proc,
            r.ts,
            name=name,
            succeeded=r.succeeded,
            error=r.errno,
            multi_call=program in MULTI_CALL_BINARIES,
        )

    def _net(self, proc: _Proc, r: Syscall) -> None:
        if not r.args:
            return
        if r.name == "socket":
            if r.succeeded and r.ret is not None:
                self._forget_fd(proc, r.ret)
                if (kind := _socket_kind(r.ret_annotation)) is not None:
                    proc.sockets[r.ret] = _Socket(
                        kind[0], family=r.args[0], annotation=r.ret_annotation
                    )
                    if "SOCK_CLOEXEC" in r.raw_args:
                        proc.cloexec.add(r.ret)
            return
        fd_text, sock_text = fd_annotation(r.args[0])  # "TCP:[10.0.0.2:1234->192.0.2.1:80]"
        sock = self._learn(proc, fd_text, sock_text)
        kind = _socket_kind(sock_text)
        protocol = kind[0] if kind else sock.protocol if sock else ""
        family, address, port = _sockaddr(r.raw_args)
        if not family and r.name in ("listen", "sendto", "sendmsg", "sendmmsg"):
            family, address, port = _from_socket_annotation(sock_text, remote=r.name != "listen")
        if not family and sock is not None:
            family = sock.family
            address, port = (
                (sock.local_address, sock.local_port)
                if r.name == "listen"
                else (sock.address, sock.port)
            )
        if sock is not None and r.name == "connect" and (r.succeeded or r.errno == "EINPROGRESS"):
            sock.family, sock.address, sock.port = family, address, port
        if sock is not None and r.name == "bind" and r.succeeded and port:
            sock.local_address, sock.local_port = address, port
        fields: dict[str, Any] = dict(
            family=family,
            protocol=protocol,
            address=address,
            port=port,
            succeeded=r.succeeded,
            error=r.errno,
        )
        cls: type[NetworkEvent]
        if r.name == "connect":
            cls = NetworkConnected
        elif r.name == "bind":
            cls = NetworkBound
        elif r.name == "listen":
            cls = NetworkListened
        else:
            cls = NetworkSent
            fields["bytes"] = r.ret if r.name != "sendmmsg" and r.ret and r.ret > 0 else 0
            fields["call"] = r.name
        if family == "AF_NETLINK" and r.name != "connect":
            return  # kernel chatter (ip, libc's getifaddrs), not traffic
        self._emit_on(sock, cls, proc, r.ts, **fields)

    def _write(self, proc: _Proc, r: Syscall) -> None:
        """write(0x3, 0x7ffd…, 0x10) = 0x10 (raw): a send only when fd 3 is a socket."""
        sock = proc.sockets.get(_int(r.args[0])) if r.args else None
        if sock is None or sock.protocol == "NETLINK" or sock.family == "AF_NETLINK":
            return
        self._emit_on(
            sock,
            NetworkSent,
            proc,
            r.ts,
            family=sock.family,
            protocol=sock.protocol,
            address=sock.address,
            port=sock.port,
            bytes=r.ret if r.ret and r.ret > 0 else 0,
            call=r.name,
            succeeded=r.succeeded,
            error=r.errno,
        )

    def _emit_on(
        self, sock: _Socket | None, cls: type[NetworkEvent], proc: _Proc, ts: float, **fields: Any
    ) -> None:
        """A socket event, with the socket's own end now or once a later call shows it."""
        if sock is not None and sock.local_port:
            fields.update(local_address=sock.local_address, local_port=sock.local_port)
        index = self._emit(cls, proc, ts, **fields)
        if sock is not None and not sock.local_port and sock.protocol in ("TCP", "UDP"):
            sock.waiting.append(index)

    def _learn(self, proc: _Proc, fd_text: str, annotation: str) -> _Socket | None:
        """What an fd argument's -yy annotation says about the socket behind it."""
        fd = _int(fd_text)
        if not annotation:
            return proc.sockets.get(fd)
        kind = _socket_kind(annotation)
        if kind is None:
            proc.sockets.pop(fd, None)  # a file or pipe now
            proc.fds[fd] = self._describe(annotation)
            return None
        protocol, family, inner = kind
        sock = proc.sockets.get(fd)
        if sock is None or sock.protocol != protocol:
            proc.fds.pop(fd, None)
            sock = proc.sockets[fd] = _Socket(protocol, family=family)
        if "->" in annotation or "->" not in sock.annotation:
            sock.annotation = annotation
        local, remote = _socket_ends(inner)
        if remote is not None and not sock.address:
            sock.address, sock.port = remote
        if local is not None and local[1] and not sock.local_port:
            sock.local_address, sock.local_port = local
            for index in sock.waiting:
                event = self.events[index]
                assert isinstance(event, NetworkEvent)
                self.events[index] = dataclasses.replace(
                    event, local_address=local[0], local_port=local[1]
                )
            sock.waiting.clear()
        return sock

    def _forget_fd(self, proc: _Proc, fd: int) -> None:
        proc.sockets.pop(fd, None)
        proc.fds.pop(fd, None)
        proc.cloexec.discard(fd)

    def _fd(self, proc: _Proc, r: Syscall) -> None:
        """Follow what each fd is: close, dup*, fcntl, accept*, pipe*, socketpair."""
        a, name = r.args, r.name
        if name in ("pipe", "pipe2", "socketpair"):
            self._fd_pair(proc, r)
            return
        if not a:
            return
        fd_text, annotation = fd_annotation(a[0])
        if name == "close_range" and len(a) >= 2:
            low, high = _int(a[0]), _int(a[1]) if a[1].strip().isdecimal() else 1 << 31
            for fd in [fd for fd in {*proc.sockets, *proc.fds} if low <= fd <= high]:
                if "CLOSE_RANGE_CLOEXEC" in r.raw_args:
                    proc.cloexec.add(fd)
                else:
                    self._forget_fd(proc, fd)
            return
        source = self._learn(proc, fd_text, annotation)
        if name == "close":
            self._forget_fd(proc, _int(fd_text))
            return
        if not r.succeeded or r.ret is None:
            return
        command = a[1] if len(a) > 1 else ""
        if name == "fcntl" and command == "F_SETFD":
            if "FD_CLOEXEC" in r.raw_args:
                proc.cloexec.add(_int(fd_text))
            else:
                proc.cloexec.discard(_int(fd_text))
            return
        if name == "fcntl" and command not in ("F_DUPFD", "F_DUPFD_CLOEXEC"):
            return
        if name != "fcntl" and not name.startswith("accept") and r.ret == _int(fd_text):
            return  # dup2(1, 1): nothing changes
        self._forget_fd(proc, r.ret)
        if name.startswith("accept"):
            kind = _socket_kind(r.ret_annotation)
            if kind is None:
                return
            accepted = proc.sockets[r.ret] = _Socket(kind[0], family=kind[1])
            local, remote = _socket_ends(kind[2])
            if local is not None:
                accepted.local_address, accepted.local_port = local
            if remote is not None:
                accepted.address, accepted.port = remote
            accepted.annotation = r.ret_annotation
        elif source is not None:
            proc.sockets[r.ret] = source  # dup: the same socket under a second number
        elif r.ret_annotation or _int(fd_text) in proc.fds:
            # dup2(4<pipe:[12]>, 1</dev/null<char 1:3>>) = 1<pipe:[12]>
            proc.fds[r.ret] = (
                self._describe(r.ret_annotation) if r.ret_annotation else proc.fds[_int(fd_text)]
            )
        else:
            return
        if "CLOEXEC" in r.raw_args:  # accept4/dup3 flags, F_DUPFD_CLOEXEC
            proc.cloexec.add(r.ret)

    def _fd_pair(self, proc: _Proc, r: Syscall) -> None:
        """pipe2([3<pipe:[302913]>, 4<pipe:[302913]>], O_CLOEXEC) = 0, and
        socketpair(AF_UNIX, SOCK_STREAM, 0, [3<UNIX-STREAM:[7]>, 4<UNIX-STREAM:[8]>]) = 0."""
        if not r.succeeded or not r.args:
            return
        listed = r.args[3] if r.name == "socketpair" and len(r.args) > 3 else r.args[0]
        ends = [fd_annotation(x) for x in split_args(listed.strip().strip("[]"))]
        for fd_text, annotation in ends:
            fd = _int(fd_text)
            self._forget_fd(proc, fd)
            if r.name == "socketpair":
                kind = _socket_kind(annotation)
                proc.sockets[fd] = _Socket(
                    kind[0] if kind else "UNIX", family="AF_UNIX", annotation=annotation
                )
            else:
                proc.fds[fd] = self._describe(annotation) or "pipe"
            if "CLOEXEC" in r.raw_args:
                proc.cloexec.add(fd)

    def _ioctl(self, proc: _Proc, r: Syscall) -> None:
        """ioctl(3</tmp/f>, FS_IOC_SETFLAGS, [FS_IMMUTABLE_FL]) = -1 EPERM (…): `chattr +i`."""
        a = r.args
        if len(a) < 2 or a[1] not in SETFLAGS_IOCTLS:
            return
        path = fd_annotation(a[0])[1]
        flags = a[2].strip("[] ") if len(a) > 2 else ""
        self._emit(
            FileAttributesChanged,
            proc,
            r.ts,
            path=path,
            flags=flags,
            succeeded=r.succeeded,
            error=r.errno,
        )

    def _file(self, proc: _Proc, r: Syscall) -> None:
        a, name = r.args, r.name
        ok, err = r.succeeded, r.errno
        if len(a) < 1:
            return
        if name in ("chdir", "fchdir"):
            if ok:
                proc.cwd = (
                    self._path(proc, a[0]) if name == "chdir" else fd_annotation(a[0])[1] or "/"
                )
            return
        at = name.endswith("at") or name == "renameat2"
        common = dict(succeeded=ok, error=err)
        if name in ("unlink", "rmdir", "unlinkat"):
            path = self._path(proc, a[1], a[0]) if at else self._path(proc, a[0])
            is_dir = name == "rmdir" or "AT_REMOVEDIR" in r.raw_args
            self._emit(FileDeleted, proc, r.ts, path=path, is_dir=is_dir, **common)
        elif name.startswith("rename") and len(a) >= 2:
            if at and len(a) >= 4:
                old, new = self._path(proc, a[1], a[0]), self._path(proc, a[3], a[2])
            else:
                old, new = self._path(proc, a[0]), self._path(proc, a[1])
            self._emit(FileRenamed, proc, r.ts, path=old, new_path=new, **common)
        elif name in ("chmod", "fchmod", "fchmodat") and len(a) >= 2:
            if name == "fchmod":
                path, mode = fd_annotation(a[0])[1], a[1]
            elif at and len(a) >= 3:
                path, mode = self._path(proc, a[1], a[0]), a[2]
            else:
                path, mode = self._path(proc, a[0]), a[1]
            mode_bits = _int(mode, 8) & 0o7777
            self._emit(FileModeChanged, proc, r.ts, path=path, mode=mode_bits, **common)
        elif name in ("mkdir", "mkdirat", "mknod", "mknodat"):
            path = self._path(proc, a[1], a[0]) if at and len(a) >= 2 else self._path(proc, a[0])
            kind = "dir" if name.startswith("mkdir") else "node"
            if kind == "dir" and err == "EEXIST":
                return  # `mkdir -p` walking existing parents
            self._emit(FileCreated, proc, r.ts, path=path, file_type=kind, **common)
            # mknodat(AT_FDCWD, "/tmp/d", S_IFBLK|0600, makedev(0x8, 0x1)): a device node is a
            # way to the host's disks or memory, whatever the name
            if kind == "node" and ("S_IFBLK" in r.raw_args or "S_IFCHR" in r.raw_args):
                self._emit(PrivilegedAttempt, proc, r.ts, call=name, args=r.raw_args, **common)
        elif name in ("symlink", "symlinkat") and len(a) >= 2:
            link = self._path(proc, a[2], a[1]) if at and len(a) >= 3 else self._path(proc, a[1])
            target = unquote(a[0])
            self._emit(
                FileCreated, proc, r.ts, path=link, file_type="symlink", target=target, **common
            )
        elif name in ("link", "linkat") and len(a) >= 2:
            if at and len(a) >= 4:
                src, dst = self._path(proc, a[1], a[0]), self._path(proc, a[3], a[2])
            else:
                src, dst = self._path(proc, a[0]), self._path(proc, a[1])
            self._emit(
                FileCreated, proc, r.ts, path=dst, file_type="hardlink", target=src, **common
            )

    def _exit(self, r: Exit) -> None:
        if self._tgid(r.pid) != r.pid:
            return  # a thread ended, not a process
        proc = self._proc(r.pid, r.ts)
        proc.end, proc.exit_code, proc.signal = self._ts(r.ts), r.code, r.signal
        if proc.stdio is None:
            proc.stdio = self._stdio(proc)  # never exec'd: what its builtins wrote to
        proc.sockets.clear()
        proc.fds.clear()
        if proc.pid == self.init_pid:
            self.init_exit = r.code if r.code is not None else 128 + _signal_number(r.signal)
        self._emit(ProcessExited, proc, r.ts, exit_code=r.code, signal=r.signal)


# "3000" (ms: poll, epoll_wait), "{tv_sec=600, tv_nsec=0}" (ppoll, pselect6, epoll_pwait2),
# "{tv_sec=600, tv_usec=0}" (select); "-1" / "NULL" wait forever
_TIMEVAL = re.compile(r"^\{tv_sec=(\d+), tv_(n|u)sec=(\d+)\}")


def wait_timeout(call: str, args: tuple[str, ...] | list[str]) -> float | None:
    """The timeout in seconds a timed wait asked for; None when it waits forever or unknown."""
    index = WAIT_CALLS.get(call)
    if index is None or len(args) <= index:
        return None
    text = args[index].strip()
    m = _TIMEVAL.match(text)
    if m is not None:
        return int(m[1]) + int(m[3]) / (1e9 if m[2] == "n" else 1e6)
    if text.lstrip("-").isdecimal() and call in ("poll", "epoll_wait", "epoll_pwait"):
        ms = int(text)
        return ms / 1000 if ms >= 0 else None
    return None


def _int(text: str, base: int = 0) -> int:
    """`"0755"`, `"-1"`, `"1 /* 23472 in strace's PID NS */"` (the pid the sample named)."""
    try:
        return int(text.split("/*")[0].strip(), base)
    except ValueError:
        return 0


_SIGNALS = {"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGKILL": 9, "SIGSEGV": 11, "SIGTERM": 15}


# "5 /* 19959 in strace's PID NS */" (--pidns-translation) → 19959; 0 when not translated
_HOST_PID = re.compile(r"/\* (-?\d+) in strace's PID NS \*/")


def _host_pid(text: str) -> int:
    m = _HOST_PID.search(text)
    return int(m[1]) if m else 0


# "/dev/null<char 1:3>": -yy adds device numbers to device files
_DEVICE_NUMBERS = re.compile(r"<(?:char|block) \d+:\d+>$")


def _endpoint_text(host: str, port: int) -> str:
    if not port:
        return host  # a unix socket's path
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _signal_number(name: str) -> int:
    return _SIGNALS.get(name, 0)


# {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}
# {sa_family=AF_INET6, sin6_port=htons(443), …, inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), …}
# {sa_family=AF_UNIX, sun_path="/var/run/docker.sock"}
def _sockaddr(text: str) -> tuple[str, str, int]:
    fam = re.search(r"sa_family=(AF_\w+)", text)
    if fam is None:
        return "", "", 0
    port = re.search(r"sin6?_port=htons\((\d+)\)", text)
    addr = re.search(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6?, "([^"]+)"', text)
    unix = re.search(r'sun_path=(@?"(?:[^"\\]|\\.)*")', text)
    address = ""
    if addr is not None:
        address = addr[1] or addr[2]
    elif unix is not None:
        raw = unix[1]
        address = ("@" + unquote(raw[1:])) if raw.startswith("@") else unquote(raw)
    return fam[1], address, int(port[1]) if port else 0


# "UDP:[10.0.0.2:40000->192.0.2.53:53]", "TCPv6:[[::]:12999]"
def _from_socket_annotation(sock: str, remote: bool) -> tuple[str, str, int]:
    m = re.search(r"\[(.*)\]$", sock)
    if m is None:
        return "", "", 0
    ends = m[1].split("->")
    end = ends[-1] if remote else ends[0]
    host, _, port = end.rpartition(":")
    if not host or not port.isdecimal():
        return "", "", 0  # "TCP:[187857]": an inode, the socket has no address yet
    family = "AF_INET6" if host.startswith("[") else "AF_INET"
    return family, host.strip("[]"), int(port)


# "TCP:[94831]", "TCPv6:[[::1]:80->[::1]:5555]", "UNIX-STREAM:[4567->4568,/run/x.sock]"
# (pipes are "pipe:[12]", files are paths: neither matches)
_SOCKET_ANNOTATION = re.compile(r"^(?:([A-Z][A-Z0-9]*?)(v6)?(?:-[A-Z]+)?|socket):\[(.*)\]$")


def _socket_kind(annotation: str) -> tuple[str, str, str] | None:
    """-yy annotation → (protocol, family, inside the brackets), None when not a socket."""
    m = _SOCKET_ANNOTATION.match(annotation)
    if m is None:
        return None
    protocol = m[1] or ""
    if protocol == "UNIX":
        family = "AF_UNIX"
    elif protocol == "NETLINK":
        family = "AF_NETLINK"
    elif protocol:
        family = "AF_INET6" if m[2] else "AF_INET"
    else:
        family = ""
    return protocol, family, m[3]


Endpoint = tuple[str, int]


# "10.0.0.2:1234->192.0.2.1:80" → both ends; "0.0.0.0:43210" → the local end; "94831" → none
def _socket_ends(inner: str) -> tuple[Endpoint | None, Endpoint | None]:
    def endpoint(text: str) -> Endpoint | None:
        host, _, port = text.rpartition(":")
        return (host.strip("[]"), int(port)) if host and port.isdecimal() else None

    local, arrow, remote = inner.partition("->")
    return endpoint(local), endpoint(remote) if arrow else None
