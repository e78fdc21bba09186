"""Syscall records → ordered typed events.

Meaning lives here: which calls are writes, what `/proc/self/exe` really was, which socket a
write went to, how long a skipped sleep asked to wait. Which pid is whose child is
`processes.py`'s; what each fd is (pipes, sockets, files), `fds.py`'s. Lines of runc's own init
(before the entrypoint's first exec) are runtime noise: counted, not reported.
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
    DataWritten,
    Event,
    FileAttributesChanged,
    FileCreated,
    FileDeleted,
    FileModeChanged,
    FileOpenedForRead,
    FileOpenedForWrite,
    FileRenamed,
    FileTimesChanged,
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
from detonate.model.watched_reads import PROC_PID_FILE, PROCESS_LIST, read_kind
from detonate.sandbox.tracing.interface import TraceSummary
from detonate.sandbox.tracing.programs import ProgramResolver
from detonate.sandbox.tracing.strace.calls import (
    COPY_CALLS,
    EXEC_CALLS,
    FD_CALLS,
    FILE_CALLS,
    FORK_CALLS,
    NET_CALLS,
    OPEN_CALLS,
    PR_SET_NAME,
    PRIVILEGED_CALLS,
    SETFLAGS_IOCTLS,
    SIGNAL_CALLS,
    SLEEP_CALLS,
    TIME_CALLS,
    WAIT_CALLS,
    WRITE_CALLS,
)
from detonate.sandbox.tracing.strace.decode import (
    file_attributes,
    file_times,
    flag_names,
    open_flags,
    privileged_fields,
)
from detonate.sandbox.tracing.strace.fds import (
    CONTAINER_OUTPUT,
    FdTable,
    Socket,
    from_socket_annotation,
    sockaddr,
    socket_kind,
)
from detonate.sandbox.tracing.strace.lines import (
    Exit,
    Lost,
    Record,
    SignalDelivered,
    Superseded,
    Syscall,
    Unparsed,
    fd_annotation,
    int_arg,
    read_records,
    string_list,
    unquote,
)
from detonate.sandbox.tracing.strace.processes import Proc, ProcessTable

MULTI_CALL_BINARIES = frozenset({"busybox", "toybox"})
SELF_EXE = "/proc/self/exe"
# fexecve(): the program is whatever the fd is ("/tmp/x", "/memfd:payload (deleted)").
FD_PATH = re.compile(r"^/(?:proc/self|dev)/fd/(\d+)$")
# Device files a write to is no data kept (the terminal, /dev/null); /dev/shm is a real tmpfs.
DEVICE_WRITES = re.compile(r"^/dev/(?!shm/|mqueue/)")


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
    parse_errors: int = 0
    lines_lost: int = 0
    unparsed: list[str] = field(default_factory=list)
    setup_lines: int = 0
    started: bool = False
    skipped: float = 0.0
    init_exit: int | None = None
    executed: set[str] = field(default_factory=set)
    # files the sample wrote, renamed or linked into place: a later read open of one is an event
    written: set[str] = field(default_factory=set)
    # pids as the sample sees them (its pid namespace) → host pids, from clone's results: whose
    # /proc/PID/environ a read opened (its own is no credential access)
    ns_pids: dict[int, int] = field(default_factory=dict)
    # (pid, argv, path, succeeded) of watched reads already reported: the first one is the act
    reads_seen: set[tuple[int, tuple[str, ...], str, bool]] = field(default_factory=set)
    programs: ProgramResolver = field(init=False)
    table: ProcessTable = field(init=False)

    def __post_init__(self) -> None:
        self.ns_pids[1] = self.init_pid
        self.programs = ProgramResolver(self.rootfs)
        self.table = ProcessTable(self.workdir, self.t0)
        for link in self.init_fds.values():
            if link.startswith("/") and link != "/dev/null":
                # runc's stdio: the run's output log
                self.table.host_names[link] = CONTAINER_OUTPUT

    # -- driving ---------------------------------------------------------------------------

    def feed_lines(self, lines: Iterable[str]) -> None:
        records = list(read_records(lines))
        self._learn_parents(records)
        for r in records:
            self.feed(r)

    def feed_file(self, path: Path) -> None:
        """As feed_lines, in two passes over the file: the analyser's memory does not grow
        with the trace (a trace-size bomb writes up to the cap, 512 MiB)."""
        with open(path, errors="surrogateescape") as lines:
            # only clone/fork/vfork lines (and their "<... clone resumed>") matter here
            self._learn_parents(read_records(x for x in lines if "clone" in x or "fork" in x))
        with open(path, errors="surrogateescape") as lines:
            for r in read_records(lines):
                self.feed(r)

    def _learn_parents(self, records: Iterable[Record]) -> None:
        # Children's first lines may precede the parent's clone result: learn parentage first.
        for r in records:
            if isinstance(r, Syscall) and r.name in FORK_CALLS and (r.ret_host_pid or 0) > 0:
                assert r.ret_host_pid is not None
                self.table.cloned(r.ret_host_pid, r.pid, "CLONE_THREAD" in r.raw_args)

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
                self.table.thread_group.clear()
                fds = FdTable(self.table.host_names)
                fds.paths.update(
                    {fd: fds.describe_annotation(link) for fd, link in self.init_fds.items()}
                )
                self.table.procs[self.init_pid] = Proc(
                    self.init_pid,
                    0,
                    self.init_exe,
                    (),
                    self._ts(record.ts),
                    self.workdir,
                    fds=fds,
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
            self.table.thread_group[record.former_tid] = record.pid
        elif isinstance(record, SignalDelivered):
            pass  # the sender's kill() is the event; "+++ killed by +++" ends the process

    def summary(self) -> TraceSummary:
        return TraceSummary(
            events=tuple(self.events),
            processes=self.table.infos(),
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
        return r.pid == self.init_pid or self.table.thread_group.get(r.pid) == self.init_pid

    def _ts(self, ts: float) -> float:
        return round(max(0.0, ts - self.t0), 6)

    def _emit(self, cls: type[Event], proc: Proc, ts: float, **fields: Any) -> int:
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

    def _path(self, proc: Proc, path_arg: str, dirfd_arg: str = "") -> str:
        path = unquote(path_arg)
        if path.startswith("/"):
            return posixpath.normpath(path)
        base = fd_annotation(dirfd_arg)[1] if dirfd_arg else ""
        return posixpath.normpath(posixpath.join(base or proc.cwd, path))

    # -- per call --------------------------------------------------------------------------

    def _syscall(self, r: Syscall) -> None:
        proc = self.table.get(r.pid, r.ts)
        proc.syscalls += 1
        ok, err = r.succeeded, r.errno
        name, a = r.name, r.args
        if name in EXEC_CALLS:
            self._exec(proc, r)
        elif name in FORK_CALLS:
            child = r.ret_host_pid if ok and r.ret_host_pid and r.ret_host_pid > 0 else 0
            if child and r.ret and r.ret > 0:
                self.ns_pids[r.ret] = child
            if child and "CLONE_THREAD" in r.raw_args:
                self.table.thread_group[child] = proc.pid
            elif err.startswith("ERESTART"):
                pass  # a signal came during clone(): the kernel restarts it, no fork refused
            elif child or not ok:
                self._emit(ProcessForked, proc, r.ts, child_pid=child, succeeded=ok, error=err)
                if child:
                    self.table.get(child, r.ts)
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
        elif name in COPY_CALLS:
            self._copy(proc, r)
        elif name in FD_CALLS:
            self._fd(proc, r)
        elif name == "ioctl":
            self._ioctl(proc, r)
        elif name == "memfd_create" and ok and r.ret is not None:
            # "/memfd:payload (deleted)", for fexecve
            proc.fds.opened(
                r.ret, r.ret_annotation, "/memfd:" + unquote(a[0]), "MFD_CLOEXEC" in r.raw_args
            )
        elif name in SIGNAL_CALLS and len(a) >= 2:
            target = int_arg(a[1] if name == "tgkill" else a[0])
            host = _host_pid(a[0])  # kill: the pid, tgkill: the thread group, tkill: a thread
            if host > 0 and name == "tkill":
                host = self.table.tgid(host)
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
        elif name in TIME_CALLS:
            self._times(proc, r)
        if name in PRIVILEGED_CALLS:
            self._privileged(proc, r)

    def _privileged(self, proc: Proc, r: Syscall) -> None:
        def path_of(path_arg: str, dirfd_arg: str) -> str:
            return self._path(proc, path_arg, dirfd_arg)

        typed = privileged_fields(r.name, r.args, path_of)
        if r.name == "execveat":
            typed["path"] = self._exec_path(proc, r)
        self._emit(
            PrivilegedAttempt,
            proc,
            r.ts,
            call=r.name,
            args=r.raw_args,
            succeeded=r.succeeded,
            error=r.errno,
            **typed,
        )

    def _exec_path(self, proc: Proc, r: Syscall) -> str:
        """The program an execve/execveat names, resolved; a fileless execveat's fd path."""
        a = r.args
        if r.name != "execveat":
            return self._path(proc, (*a, "")[0])
        dirfd, path_arg = (*a, "", "")[:2]
        path = unquote(path_arg)
        if not path and "AT_EMPTY_PATH" in r.raw_args:
            return fd_annotation(dirfd)[1]  # fileless: "/memfd:x (deleted)"
        return self._path(proc, path_arg, dirfd) if path else ""

    def _exec(self, proc: Proc, r: Syscall) -> None:
        path = self._exec_path(proc, r)
        argv = string_list((*r.args, "", "", "")[2 if r.name == "execveat" else 1])
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
            proc.fds.exec_closes()
            proc.stdio = proc.fds.stdio()
            proc.exe_resolved = self.programs.real_path(exe)
            proc.exe_sha256 = self.programs.sha256(exe)
            proc.inputs += 1  # a new program image: its writes are its own
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
            fds = proc.fds.stdio()
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

    def _program(self, proc: Proc, path: str) -> tuple[str, str]:
        """(exe, binary) an exec of `path` runs: see ProcessExecuted.exe; `binary` is the file
        the kernel loads (for a script, its interpreter)."""
        if path == SELF_EXE:
            binary = proc.binary or proc.exe
            return (self.programs.real_path(binary) if binary else path), binary
        fd_path = FD_PATH.match(path)
        if fd_path is not None:
            fd = int(fd_path[1])
            behind = "" if fd in proc.fds.sockets else proc.fds.paths.get(fd, "")
            if behind.startswith("/"):
                return behind, self.programs.binary(behind)
        return path, self.programs.binary(path)

    def _open(self, proc: Proc, r: Syscall) -> None:
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
        decoded = open_flags(flags)
        if r.succeeded and r.ret is not None:
            proc.fds.opened(r.ret, r.ret_annotation, path, decoded.cloexec)
            # openat(…, "/tmp/.k/authorized_keys", …) = 3</root/.ssh/authorized_keys>: the
            # file the kernel opened, through any symlink, is what rules judge
            opened = proc.fds.paths[r.ret]
            if opened.startswith("/") and opened != path and "(deleted)" not in opened:
                path = opened
        ok, err = r.succeeded, r.errno
        moved = {"requested_path": requested} if path != requested else {}
        token = self.watched.get(path) or self.watched.get(requested)
        if token and "O_WRONLY" not in flag_names(flags):
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
            proc.inputs += ok  # what it writes next may carry the bait (data provenance)
        if not decoded.writes:
            if not token and path not in self.written and self._watched_read(proc, path):
                key = (proc.pid, proc.argv, path, ok)  # per program image
                if key not in self.reads_seen:
                    self.reads_seen.add(key)
                    self._emit(
                        FileOpenedForRead,
                        proc,
                        r.ts,
                        path=path,
                        flags=flags,
                        succeeded=ok,
                        error=err,
                        **moved,
                    )
                    # a /proc walk reads one small file a process: what the walker writes next
                    # is no more worth following than before (and a supervisor walks often)
                    proc.inputs += ok and read_kind(path) != PROCESS_LIST
                return
            if ok and not token and path in self.written:
                # a dropped file read back (cp, sed FILE, sh FILE): provenance follows it
                self._emit(FileOpenedForRead, proc, r.ts, path=path, flags=flags, **moved)
                proc.inputs += 1
            return
        if ok and not DEVICE_WRITES.match(path):  # /dev/null keeps nothing to follow
            self.written.add(path)
        self._emit(
            FileOpenedForWrite,
            proc,
            r.ts,
            path=path,
            flags=flags,
            created=decoded.created,
            truncated=decoded.truncated,
            append=decoded.append,
            succeeded=ok,
            error=err,
            **moved,
        )
        if path.startswith(("/proc/", "/sys/")):
            self._emit(
                PrivilegedAttempt,
                proc,
                r.ts,
                call="write",
                args=path,
                path=path,
                succeeded=ok,
                error=err,
            )

    def _watched_read(self, proc: Proc, path: str) -> bool:
        """A read of `path` is an act (model/watched_reads.py); another process's environ or
        memory, not the reader's own (pids as the sample named them)."""
        if not read_kind(path):
            return False
        match = PROC_PID_FILE.match(path)
        if match is None:
            return True
        host = self.ns_pids.get(int(match[1]), 0)
        return not host or self.table.tgid(host) != proc.pid

    def _sleep(self, proc: Proc, r: Syscall) -> None:
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

    def _wait(self, proc: Proc, r: Syscall) -> None:
        """poll(…, 1, 600000) = 0 (Timeout): a timed wait ran out; ret None: still pending."""
        requested = wait_timeout(r.name, r.args)
        if requested is None or requested < self.sleep_threshold:
            return
        if r.ret == 0:
            self._emit(WaitTimedOut, proc, r.ts, call=r.name, requested_seconds=requested)
        elif r.ret is None and not r.errno:
            self._emit(WaitPending, proc, r.ts, call=r.name, requested_seconds=requested)

    def _prctl(self, proc: Proc, r: Syscall) -> None:
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

    def _net(self, proc: Proc, r: Syscall) -> None:
        if not r.args:
            return
        if r.name == "socket":
            if r.succeeded and r.ret is not None:
                proc.fds.socket_made(
                    r.ret, r.args[0], r.ret_annotation, "SOCK_CLOEXEC" in r.raw_args
                )
            return
        fd_text, sock_text = fd_annotation(r.args[0])  # "TCP:[10.0.0.2:1234->192.0.2.1:80]"
        sock = self._learn(proc, int_arg(fd_text), sock_text)
        kind = socket_kind(sock_text)
        protocol = kind[0] if kind else sock.protocol if sock else ""
        family, address, port = sockaddr(r.raw_args)
        if not family and r.name in ("listen", "sendto", "sendmsg", "sendmmsg"):
            family, address, port = from_socket_annotation(sock_text, remote=r.name != "listen")
        if not family and sock is not None:
            family = sock.family
            address, port = (
                (sock.local_address, sock.local_port)
                if r.name == "listen"
                else (sock.address, sock.port)
            )
        if sock is not None and r.name == "connect" and (r.succeeded or r.errno == "EINPROGRESS"):
            sock.family, sock.address, sock.port = family, address, port
            proc.inputs += 1
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

    def _write(self, proc: Proc, r: Syscall) -> None:
        """write(0x3, 0x7ffd…, 0x10) = 0x10 (raw): a send when fd 3 is a socket, else the
        first write through the fd since the process last took input (DataWritten)."""
        fd = int_arg(r.args[0]) if r.args else -1
        sock = proc.fds.sockets.get(fd)
        if sock is None:
            self._data_written(proc, r, fd)
            return
        if sock.protocol == "NETLINK" or sock.family == "AF_NETLINK":
            return
        self._sent(sock, proc, r)

    def _copy(self, proc: Proc, r: Syscall) -> None:
        """sendfile(4</usr/lib/x>, 3</tmp/dl>, NULL, 16777216) = 199: a write to fd 4."""
        index = COPY_CALLS[r.name]
        if len(r.args) <= index:
            return
        fd_text, annotation = fd_annotation(r.args[index])
        fd = int_arg(fd_text)
        sock = self._learn(proc, fd, annotation)
        if sock is None:
            self._data_written(proc, r, fd)
        elif sock.family in ("AF_INET", "AF_INET6"):
            self._sent(sock, proc, r)

    def _sent(self, sock: Socket, proc: Proc, r: Syscall) -> None:
        """Bytes a write-like call (write, writev, sendfile …) put on a socket."""
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

    def _data_written(self, proc: Proc, r: Syscall, fd: int) -> None:
        target = proc.fds.paths.get(fd, "")
        kept = target.startswith("pipe:") or (
            target.startswith("/") and not DEVICE_WRITES.match(target)
        )
        if not kept or not r.succeeded or not r.ret or r.ret <= 0:
            return
        if proc.write_marks.get((fd, target)) == proc.inputs:
            return  # folded into the event of the first write since the last input
        proc.write_marks[(fd, target)] = proc.inputs
        self._emit(DataWritten, proc, r.ts, path=target, fd=fd, bytes=r.ret)

    def _emit_on(
        self, sock: Socket | None, cls: type[NetworkEvent], proc: Proc, ts: float, **fields: Any
    ) -> None:
        """A socket event, with the socket's own end now or once a later call shows it."""
        if sock is not None and sock.local_port:
            fields.update(local_address=sock.local_address, local_port=sock.local_port)
        index = self._emit(cls, proc, ts, **fields)
        if sock is not None and not sock.local_port and sock.protocol in ("TCP", "UDP"):
            sock.waiting.append(index)

    def _learn(self, proc: Proc, fd: int, annotation: str) -> Socket | None:
        """What an fd argument's -yy annotation says about the socket behind it; events that
        waited for the socket's own end get it once it shows."""
        sock = proc.fds.learn(fd, annotation)
        if sock is not None and sock.local_port and sock.waiting:
            for index in sock.waiting:
                event = self.events[index]
                assert isinstance(event, NetworkEvent)
                self.events[index] = dataclasses.replace(
                    event, local_address=sock.local_address, local_port=sock.local_port
                )
            sock.waiting.clear()
        return sock

    def _fd(self, proc: Proc, r: Syscall) -> None:
        """Follow what each fd is: close, dup*, fcntl, accept*, pipe*, socketpair."""
        if r.name in ("pipe", "pipe2", "socketpair"):
            proc.fds.pair(r)
            return
        if not r.args:
            return
        if r.name == "close_range" and len(r.args) >= 2:
            proc.fds.close_range(r)
            return
        fd_text, annotation = fd_annotation(r.args[0])
        fd = int_arg(fd_text)
        proc.fds.follow(r, fd, self._learn(proc, fd, annotation))
        if r.name.startswith("accept") and r.succeeded:
            proc.inputs += 1

    def _ioctl(self, proc: Proc, r: Syscall) -> None:
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
            attributes=file_attributes(flags),
            succeeded=r.succeeded,
            error=r.errno,
        )

    def _file(self, proc: Proc, r: Syscall) -> None:
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
            if ok:
                self.written.add(new)
        elif name in ("chmod", "fchmod", "fchmodat") and len(a) >= 2:
            if name == "fchmod":
                path, mode = fd_annotation(a[0])[1], a[1]
            elif at and len(a) >= 3:
                path, mode = self._path(proc, a[1], a[0]), a[2]
            else:
                path, mode = self._path(proc, a[0]), a[1]
            mode_bits = int_arg(mode, 8) & 0o7777
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
                self._privileged(proc, r)
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
            if ok:
                self.written.add(dst)

    def _times(self, proc: Proc, r: Syscall) -> None:
        """utimensat(AT_FDCWD</d>, "f", [{tv_sec=…, tv_nsec=…}, UTIME_OMIT], 0) = 0;
        utimensat(3</tmp/f>, NULL, …) (futimens); futimesat(dirfd, path, …); utimes(path, …);
        utime(path, {actime=…, modtime=…})."""
        a = (*r.args, "", "", "")
        if r.name in ("utimensat", "futimesat"):
            dirfd, path_arg, times_arg = a[0], a[1], a[2]
            if path_arg.strip().startswith('"'):
                path = self._path(proc, path_arg, dirfd)
            else:
                path = fd_annotation(dirfd)[1]  # NULL path: the fd's own file
        else:
            path, times_arg = self._path(proc, a[0]), a[1]
        if not path:
            return
        times = file_times(r.name, times_arg)
        age = round(r.ts - times.modify, 3) if times.modify is not None else None
        self._emit(
            FileTimesChanged,
            proc,
            r.ts,
            path=path,
            access_time=times.access,
            modify_time=times.modify,
            now=times.now,
            modify_age=age,
            succeeded=r.succeeded,
            error=r.errno,
        )

    def _exit(self, r: Exit) -> None:
        if self.table.tgid(r.pid) != r.pid:
            return  # a thread ended, not a process
        proc = self.table.get(r.pid, r.ts)
        proc.end, proc.exit_code, proc.signal = self._ts(r.ts), r.code, r.signal
        if proc.stdio is None:
            proc.stdio = proc.fds.stdio()  # never exec'd: what its builtins wrote to
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


_SIGNALS = {"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGKILL": 9, "SIGSEGV": 11, "SIGTERM": 15}


# "5 /* 19959 in strace's PID NS */" (--pidns-translation) → 19959; 0 when not translated
_HOST_PID = re.compile(r"/\* (-?\d+) in strace's PID NS \*/")


def _host_pid(text: str) -> int:
    m = _HOST_PID.search(text)
    return int(m[1]) if m else 0


def _signal_number(name: str) -> int:
    return _SIGNALS.get(name, 0)
