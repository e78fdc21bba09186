"""Facts observed while the sample ran, in past tense. One ordered stream per run.

Every event carries who did it (pid, ppid, exe, argv) and when (seq, ts). Concrete kinds
subclass `Event` and add typed fields; `kind` names them in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"

    seq: int  # position in the run's stream, from 0
    ts: float  # seconds since the container started
    pid: int  # host-visible pid of the actor; 0 when not (yet) attributed
    ppid: int = 0
    exe: str = ""
    argv: tuple[str, ...] = ()
    # seconds of the sample's own time: `ts` plus the waits the time keeper skipped before it
    # (rates, intervals and beacon periods are judged in this time)
    sample_ts: float = 0.0


# --- process -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProcessExecuted(Event):
    """execve/execveat. `path` as requested; `exe` (base) is the program now running: `path`,
    except that /proc/self/exe is resolved to the binary the process ran (a script's
    interpreter, symlinks followed: "/bin/busybox") and /proc/self/fd/N, /dev/fd/N to the
    file behind the fd ("/memfd:x (deleted)").

    `stdin`/`stdout`/`stderr` are fds 0/1/2 as the new program got them (after close-on-exec):
    "pipe:[4711]" (one pipe: the same text in the writer's stdout and the reader's stdin),
    "socket:TCP:[10.0.0.2:40000->192.0.2.1:4444]" (the -yy form of strace, "socket:" added),
    "/dev/null" or another path inside the container, "container-output" (the log runc gave
    the container), "" when closed or unknown.
    """

    kind: ClassVar[str] = "process.exec"
    path: str
    applet: str = ""  # busybox-style multi-call binaries: the applet that really ran ("wget")
    succeeded: bool = True
    error: str = ""  # "ENOENT" when it failed
    stdin: str = ""
    stdout: str = ""
    stderr: str = ""
    # `exe` with its symlinks resolved inside the container root ("/usr/lib/libxz.so.5" for a
    # busybox copy run as /tmp/.X0-unix/wget; a script stays the script, its interpreter is
    # in argv/applet), and that file's sha256 as the run left it, read at the end of the run
    # ("" when not a regular file, gone, over 64 MiB, or a failed exec), so a renamed copy of
    # busybox/wget/curl/nc is recognised by content.
    exe_resolved: str = ""
    exe_sha256: str = ""


@dataclass(frozen=True, kw_only=True)
class ProcessRenamed(Event):
    """prctl(PR_SET_NAME): the process (thread) gave itself a new comm name, as `ps`/`top`
    show it ("kworker/0:1"); `exe`/`argv` stay what was executed."""

    kind: ClassVar[str] = "process.rename"
    name: str
    succeeded: bool = True
    error: str = ""
    # The process runs busybox/toybox, which names itself after its applet: a NOEXEC applet
    # in a forked child of a busybox shell ("rm", "xxd", "chmod") shows only this way.
    multi_call: bool = False


@dataclass(frozen=True, kw_only=True)
class ProcessForked(Event):
    kind: ClassVar[str] = "process.fork"
    child_pid: int
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class ProcessExited(Event):
    kind: ClassVar[str] = "process.exit"
    exit_code: int | None = None  # None when killed by a signal
    signal: str = ""  # "SIGKILL" when killed


# --- files (paths as the sample saw them, inside the container) -----------------------------


@dataclass(frozen=True, kw_only=True)
class FileOpenedForWrite(Event):
    kind: ClassVar[str] = "file.write"
    path: str
    flags: str  # the open flags by name, for people: "O_WRONLY|O_CREAT|O_TRUNC"
    created: bool = False  # O_CREAT was asked for (not proof the file was new)
    truncated: bool = False  # O_TRUNC: the old content is gone
    append: bool = False  # O_APPEND: every write lands at the end (a log)
    succeeded: bool = True
    error: str = ""
    # the path the sample named when it led elsewhere through a symlink (`path` is where the
    # kernel opened: /tmp/.k/authorized_keys → /root/.ssh/authorized_keys); "" when the same
    requested_path: str = ""


@dataclass(frozen=True, kw_only=True)
class FileOpenedForRead(Event):
    """An open for reading of a watched path (a planted honeytoken), or of a file the run itself
    wrote (or renamed or linked into place) before: what `cp`, `sed FILE` or `sh FILE` read of
    a dropped file, for data provenance. Other reads are not events, they are too many."""

    kind: ClassVar[str] = "file.read"
    path: str
    flags: str  # the open flags by name, for people: "O_RDONLY|O_CLOEXEC"
    honeytoken: str = ""  # the planted token's kind ("aws-credentials" …), see RunResult
    succeeded: bool = True
    error: str = ""
    requested_path: str = ""  # as on FileOpenedForWrite: the symlinked name the sample opened


@dataclass(frozen=True, kw_only=True)
class DataWritten(Event):
    """write/writev through an fd that is a file or a pipe (sockets: NetworkSent). Writes are
    folded: one event for the first write through an fd since the process last took input (its
    exec, a connect or accept, a read open of a file the run wrote), so a log written a
    million times between two inputs is one event, and a download's bytes written after its
    connect always show after that connect (data provenance orders on these)."""

    kind: ClassVar[str] = "data.write"
    path: str  # the file ("/tmp/x") or the pipe ("pipe:[4711]", as in ProcessExecuted.stdout)
    fd: int
    bytes: int = 0  # of this first write


@dataclass(frozen=True, kw_only=True)
class FileCreated(Event):
    """A directory, symlink, hard link or device node was made (files: FileOpenedForWrite)."""

    kind: ClassVar[str] = "file.create"
    path: str
    file_type: str  # "dir", "symlink", "hardlink", "node"
    target: str = ""  # symlink target / hard link source
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class FileDeleted(Event):
    kind: ClassVar[str] = "file.delete"
    path: str
    is_dir: bool = False
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class FileRenamed(Event):
    kind: ClassVar[str] = "file.rename"
    path: str  # old
    new_path: str
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class FileModeChanged(Event):
    kind: ClassVar[str] = "file.chmod"
    path: str
    mode: int
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class FileAttributesChanged(Event):
    """ioctl FS_IOC_SETFLAGS (`chattr +i`: immutable, append-only …), allowed or not."""

    kind: ClassVar[str] = "file.chattr"
    path: str
    flags: str  # the flags by name, for people: "FS_IMMUTABLE_FL|FS_EXTENT_FL", "" when unknown
    # the same in chattr's words, for rules: ("immutable", "extent"); "append" is `chattr +a`
    attributes: tuple[str, ...] = ()
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class FileTimesChanged(Event):
    """utimensat/futimesat/utimes/utime: a file's access and modification times were set
    (`touch`, `touch -d 2019-03-04`, `touch -r REF`, `cp -p`, an archive extracting).

    `access_time`/`modify_time` are the times asked for, in seconds since the epoch; None when
    that time was left alone (UTIME_OMIT) or set to the current time (`now`). `modify_age` is
    how many seconds before the call the new modification time lies (negative: in the future;
    None when not set explicitly), so "set into the past" needs no clock of the reader's.
    """

    kind: ClassVar[str] = "file.times"
    path: str
    access_time: float | None = None
    modify_time: float | None = None
    now: bool = False  # NULL times or UTIME_NOW: set to the current time (plain `touch`)
    modify_age: float | None = None
    succeeded: bool = True
    error: str = ""


# --- network (socket syscalls; the simulator adds DNS/HTTP/TLS/stratum events) ---------------


@dataclass(frozen=True, kw_only=True)
class NetworkEvent(Event):
    family: str = ""  # "AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"
    protocol: str = ""  # "TCP", "UDP", "UNIX", "" when unknown
    address: str = ""  # IP, or the unix socket path
    port: int = 0
    local_address: str = ""  # the socket's own end when strace showed it (later calls)
    local_port: int = 0
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class NetworkConnected(NetworkEvent):
    kind: ClassVar[str] = "net.connect"


@dataclass(frozen=True, kw_only=True)
class NetworkBound(NetworkEvent):
    kind: ClassVar[str] = "net.bind"


@dataclass(frozen=True, kw_only=True)
class NetworkListened(NetworkEvent):
    kind: ClassVar[str] = "net.listen"


@dataclass(frozen=True, kw_only=True)
class NetworkSent(NetworkEvent):
    """sendto/sendmsg/sendmmsg, and write/writev on a socket (`call` says which)."""

    kind: ClassVar[str] = "net.send"
    bytes: int = 0
    call: str = ""


# --- signals, privilege, time -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignalSent(Event):
    kind: ClassVar[str] = "signal.kill"
    target_pid: int  # as the sample named it (container pid namespace); -1 / 0 = groups
    signal: str  # "SIGKILL"
    succeeded: bool = True
    error: str = ""
    # The victim's host pid (its thread group for tkill/tgkill), as in ProcessInfo.pid;
    # 0 when strace could not translate it (no such process, -1/0/negative = groups).
    target_host_pid: int = 0


@dataclass(frozen=True, kw_only=True)
class PrivilegedAttempt(Event):
    """A call that matters for escape or evasion, allowed or not: mount, ptrace, init_module …

    `call` is the syscall, or "write" for an open-for-write under /proc or /sys. `args` is the
    tracer's rendering of the arguments, for people (evidence excerpts); rules and detectors
    read the typed fields, which the tracer fills where the call has them:

        mount("/dev/sda1", "/mnt/host", "ext4", MS_RDONLY, NULL)
            source "/dev/sda1", path "/mnt/host", fstype "ext4", flags ("MS_RDONLY",)
        mknodat(AT_FDCWD, "/tmp/d", S_IFBLK|0600, makedev(0x8, 0x1))
            path "/tmp/d", node_type "block", device_major 8, device_minor 1
        ptrace(PTRACE_ATTACH, 1234, …)       request "PTRACE_ATTACH", target_pid 1234
    """

    kind: ClassVar[str] = "privileged"
    call: str
    args: str  # the arguments as the tracer rendered them (strace: its own text)
    succeeded: bool = True
    error: str = ""
    # the file the call acts on, resolved like every event path: mount/umount target,
    # chroot/pivot_root new root, mknod's node, setns's namespace file, finit_module's module,
    # execveat's program ("/memfd:x (deleted)"), the /proc or /sys file of a "write"
    path: str = ""
    source: str = ""  # mount: what is mounted ("/dev/sda1", "cgroup", "tmpfs")
    fstype: str = ""  # mount: the filesystem type ("ext4", "cgroup", "proc"); "" for a bind
    # the operation asked for, by name: ptrace/bpf/keyctl request, personality, reboot command
    request: str = ""
    flags: tuple[str, ...] = ()  # flags by name: MS_*, MNT_*, CLONE_NEW*, MFD_*, MODULE_INIT_*
    name: str = ""  # memfd_create's name, delete_module's module
    target_pid: int = 0  # ptrace, process_vm_writev: the pid as the sample named it
    node_type: str = ""  # mknod: "block", "char", "fifo", "socket", "file"
    device_major: int = 0  # mknod of a block or char device
    device_minor: int = 0


@dataclass(frozen=True, kw_only=True)
class SleepSkipped(Event):
    """A sleep (nanosleep, clock_nanosleep) of `requested_seconds` that the time keeper ended
    at its deadline; `skipped_seconds` of it were jumped over (virtual time), the rest passed
    for real (while another process of the sample was busy). `ts` is when it began."""

    kind: ClassVar[str] = "time.sleep_skipped"
    call: str  # "nanosleep", "clock_nanosleep"
    requested_seconds: float
    skipped_seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class WaitTimedOut(Event):
    """A timed wait that is not a sleep ran out its `requested_seconds` (poll, ppoll, select,
    pselect6, epoll_wait/epoll_pwait(2), futex, futex_waitv, rt_sigtimedwait, semtimedop,
    mq_timedreceive, mq_timedsend; "alarm"/"setitimer" for a
    timer that fired): the time keeper held it and answered the timeout at its deadline,
    having jumped over `skipped_seconds` of it. `ts` is when it began."""

    kind: ClassVar[str] = "time.wait_timed_out"
    call: str
    requested_seconds: float
    skipped_seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class WaitPending(Event):
    """Such a timed wait was still held when the run ended (`ts` is when it began): the run
    ended (timeout, or the sample never went idle) before its deadline came."""

    kind: ClassVar[str] = "time.wait_pending"
    call: str
    requested_seconds: float
    skipped_seconds: float = 0.0


RUNTIME_EVENT_TYPES: tuple[type[Event], ...] = (
    ProcessExecuted,
    ProcessRenamed,
    ProcessForked,
    ProcessExited,
    FileOpenedForWrite,
    FileOpenedForRead,
    DataWritten,
    FileCreated,
    FileDeleted,
    FileRenamed,
    FileModeChanged,
    FileAttributesChanged,
    FileTimesChanged,
    NetworkConnected,
    NetworkBound,
    NetworkListened,
    NetworkSent,
    SignalSent,
    PrivilegedAttempt,
    SleepSkipped,
    WaitTimedOut,
    WaitPending,
)
