"""strace's renderings → typed event fields (tracing/strace/decode.py), and the interpreter
filling them from whole trace lines."""

from __future__ import annotations

import posixpath

from detonate.model.events import (
    FileAttributesChanged,
    FileTimesChanged,
    PrivilegedAttempt,
    ProcessForked,
)
from detonate.sandbox.tracing.strace.decode import (
    FileTimes,
    file_attributes,
    file_times,
    flag_names,
    open_flags,
    privileged_fields,
)
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter
from detonate.sandbox.tracing.strace.lines import split_args, unquote

T0 = 1000.0
CWD = "/srv/app"  # the traced process's working directory inside the container


def path_of(path_arg: str, dirfd_arg: str) -> str:
    return posixpath.normpath(posixpath.join(CWD, unquote(path_arg)))


def fields(call: str, args: str) -> dict[str, object]:
    return privileged_fields(call, split_args(args), path_of)


def test_open_flags_name_what_the_open_does() -> None:
    log = open_flags("O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC")
    assert log.append and log.created and log.cloexec and log.writes
    assert not log.truncated and not log.read_only
    wipe = open_flags("O_RDWR|O_TRUNC")
    assert wipe.truncated and wipe.writes and not wipe.append and not wipe.created
    read = open_flags("O_RDONLY|O_NOFOLLOW")
    assert read.read_only and not read.writes


def test_flag_names_leave_out_numbers_and_null() -> None:
    assert flag_names("MS_RDONLY|MS_NOSUID|0x8000") == ("MS_RDONLY", "MS_NOSUID")
    assert flag_names("0") == () and flag_names("NULL") == ()
    assert flag_names("[FS_IMMUTABLE_FL]") == ("FS_IMMUTABLE_FL",)


def test_file_attributes_in_chattrs_words() -> None:
    assert file_attributes("FS_IMMUTABLE_FL|FS_EXTENT_FL") == ("immutable", "extent")
    assert file_attributes("FS_APPEND_FL") == ("append",)
    assert file_attributes("") == ()


def test_mount_arguments_become_source_target_type_and_flags() -> None:
    got = fields("mount", '"/dev/sda1", "/mnt/host", "ext4", MS_RDONLY|MS_NOSUID, NULL')
    assert got == {
        "source": "/dev/sda1",
        "path": "/mnt/host",
        "fstype": "ext4",
        "flags": ("MS_RDONLY", "MS_NOSUID"),
    }
    bind = fields("mount", '"/proc", "x", NULL, MS_BIND, NULL')
    assert bind["fstype"] == "" and bind["path"] == f"{CWD}/x" and bind["flags"] == ("MS_BIND",)


def test_device_nodes_give_type_and_numbers() -> None:
    disk = fields("mknodat", 'AT_FDCWD</>, "/tmp/d", S_IFBLK|0600, makedev(0x8, 0x1)')
    assert disk == {"path": "/tmp/d", "node_type": "block", "device_major": 8, "device_minor": 1}
    mem = fields("mknod", '"/tmp/m", S_IFCHR|0600, makedev(0x1, 0x1)')
    assert (mem["node_type"], mem["device_major"], mem["device_minor"]) == ("char", 1, 1)
    fifo = fields("mknod", '"/tmp/f", S_IFIFO|0600')
    assert fifo == {"path": "/tmp/f", "node_type": "fifo"}


def test_requests_names_and_pids() -> None:
    assert fields("ptrace", "PTRACE_ATTACH, 42, NULL, NULL") == {
        "request": "PTRACE_ATTACH",
        "target_pid": 42,
    }
    assert fields("ptrace", "PTRACE_TRACEME")["request"] == "PTRACE_TRACEME"
    assert fields("setns", "3</proc/1/ns/mnt>, CLONE_NEWNS") == {
        "path": "/proc/1/ns/mnt",
        "flags": ("CLONE_NEWNS",),
    }
    assert fields("memfd_create", '"payload", MFD_CLOEXEC') == {
        "name": "payload",
        "flags": ("MFD_CLOEXEC",),
    }
    assert fields("chroot", '"."') == {"path": CWD}
    assert fields("init_module", '0x7f00, 4096, ""') == {}


def interpret(*lines: str) -> TraceInterpreter:
    interpreter = TraceInterpreter(init_pid=100, t0=T0, init_exe="/bin/sh")
    start = f'100 {T0 + 0.01:.6f} execve("/bin/sh", ["sh"], 0x7ffd /* 1 var */) = 0\n'
    interpreter.feed_lines([start, *(line + "\n" for line in lines)])
    return interpreter


def test_the_interpreter_fills_the_typed_fields_from_trace_lines() -> None:
    events = (
        interpret(
            f'100 {T0 + 1:.6f} chdir("/mnt/host") = 0',
            f'100 {T0 + 2:.6f} chroot(".") = -1 EPERM (Operation not permitted)',
            f"100 {T0 + 3:.6f} ioctl(3</etc/cron.d/x>, FS_IOC_SETFLAGS, [FS_IMMUTABLE_FL]) = 0",
            f'100 {T0 + 4:.6f} execveat(3</memfd:x (deleted)>, "", ["x"], 0x7ffd /* 0 vars */, '
            "AT_EMPTY_PATH) = -1 ENOENT (No such file or directory)",
        )
        .summary()
        .events
    )
    chroot, execveat = [e for e in events if isinstance(e, PrivilegedAttempt)]
    # relative to the cwd the trace showed: the escape's `cd /mnt/host; chroot .`
    assert (chroot.call, chroot.path, chroot.args) == ("chroot", "/mnt/host", '"."')
    assert (execveat.call, execveat.path) == ("execveat", "/memfd:x (deleted)")
    (chattr,) = [e for e in events if isinstance(e, FileAttributesChanged)]
    assert chattr.attributes == ("immutable",) and chattr.path == "/etc/cron.d/x"


def test_file_times_are_read_in_every_form_strace_prints() -> None:
    past = "{tv_sec=1551694920, tv_nsec=500000000} /* 2019-03-04T10:22:00.5+0000 */"
    assert file_times("utimensat", f"[{past}, {past}]") == FileTimes(1551694920.5, 1551694920.5)
    # touch -m -d: the access time left alone; busybox touch without -d: both now
    assert file_times("utimensat", f"[UTIME_OMIT, {past}]") == FileTimes(None, 1551694920.5)
    assert file_times("utimensat", "[UTIME_NOW, UTIME_NOW]") == FileTimes(now=True)
    assert file_times("utimensat", "NULL") == FileTimes(now=True)
    usec = "[{tv_sec=10, tv_usec=250000}, {tv_sec=-20, tv_usec=0}]"
    assert file_times("utimes", usec) == FileTimes(10.25, -20.0)
    utimbuf = "{actime=1556000000 /* 2019-04-23T06:13:20+0000 */, modtime=1556000001 /* … */}"
    assert file_times("utime", utimbuf) == FileTimes(1556000000.0, 1556000001.0)
    assert file_times("utimensat", "0x7ffd5e1c") == FileTimes()  # unread pointer: nothing


def test_the_interpreter_makes_time_changes_events_with_their_age() -> None:
    old = 1551694920
    events = (
        interpret(
            f'100 {T0 + 1:.6f} utimensat(AT_FDCWD</srv/app>, "lib/.x", [{{tv_sec={old}, '
            f"tv_nsec=0}} /* 2019-03-04T10:22:00+0000 */, {{tv_sec={old}, tv_nsec=0}}], 0) = 0",
            f"100 {T0 + 2:.6f} utimensat(3</usr/lib/helper>, NULL, [UTIME_OMIT, "
            f"{{tv_sec={int(T0)}, tv_nsec=0}}], 0) = 0",
            f'100 {T0 + 3:.6f} utimensat(AT_FDCWD</srv/app>, "/usr/sbin", NULL, 0) = 0',
            f'100 {T0 + 4:.6f} utimes("/etc/x", [{{tv_sec=5, tv_usec=0}}, {{tv_sec=5, '
            "tv_usec=0}]) = -1 EPERM (Operation not permitted)",
            f'100 {T0 + 5:.6f} utime("/etc/y", {{actime=0, modtime=0}}) = 0',
            f'100 {T0 + 6:.6f} futimesat(AT_FDCWD</srv/app>, "z", NULL) = 0',
        )
        .summary()
        .events
    )
    stomp, by_fd, now, refused, utime, futimesat = [
        e for e in events if isinstance(e, FileTimesChanged)
    ]
    assert (stomp.path, stomp.modify_time, stomp.access_time) == ("/srv/app/lib/.x", old, old)
    assert stomp.modify_age == round(T0 + 1 - old, 3) and not stomp.now
    assert (by_fd.path, by_fd.access_time, by_fd.modify_age) == ("/usr/lib/helper", None, 2.0)
    assert (now.path, now.now, now.modify_time, now.modify_age) == ("/usr/sbin", True, None, None)
    assert refused.path == "/etc/x" and not refused.succeeded and refused.error == "EPERM"
    assert (utime.path, utime.modify_time) == ("/etc/y", 0.0)
    assert futimesat.path == "/srv/app/z" and futimesat.now


def test_a_clone_to_be_restarted_is_no_refused_fork() -> None:
    """A signal during clone() makes the kernel restart it (`= ? ERESTARTNOINTR`): the fork
    happens on the restart; only the pids limit's EAGAIN is a refusal."""
    events = (
        interpret(
            f"100 {T0 + 1:.6f} clone(child_stack=NULL, flags=SIGCHLD) = ? ERESTARTNOINTR "
            "(To be restarted)",
            f"100 {T0 + 1.1:.6f} clone(child_stack=NULL, flags=SIGCHLD) = 7 /* 101 in strace's "
            "PID NS */",
            f"100 {T0 + 2:.6f} clone(child_stack=NULL, flags=SIGCHLD) = -1 EAGAIN (Resource "
            "temporarily unavailable)",
        )
        .summary()
        .events
    )
    forks = [(e.succeeded, e.error) for e in events if isinstance(e, ProcessForked)]
    assert forks == [(True, ""), (False, "EAGAIN")]
