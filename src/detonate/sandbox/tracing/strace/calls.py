"""Which system calls strace traces, by what they mean to the interpreter.

Sleeps and timed waits are not among them: the time keeper (sandbox/timekeeper) traps those by
seccomp user notification; their lines are still read in traces recorded with strace --inject
(the test corpus).
"""

from __future__ import annotations

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
# Copies inside the kernel (busybox cp: sendfile; GNU cp: copy_file_range; splice): writes to
# the out fd (the index of its argument) that no write() shows.
COPY_CALLS: dict[str, int] = {"sendfile": 0, "sendfile64": 0, "copy_file_range": 2, "splice": 2}
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
# Setting a file's times (`touch -d`, `touch -r`, timestomping); glibc's utimes() and
# futimens() are utimensat underneath, older binaries and other libcs may use the rest.
TIME_CALLS = ("utimensat", "futimesat", "utimes", "utime")
TRACED_CALLS: tuple[str, ...] = (
    EXEC_CALLS
    + FORK_CALLS
    + OPEN_CALLS
    + FILE_CALLS
    + NET_CALLS
    + WRITE_CALLS
    + tuple(COPY_CALLS)
    + FD_CALLS
    + ("ioctl",)
    + SIGNAL_CALLS
    + TIME_CALLS
    + ("prctl",)
    + tuple(sorted(PRIVILEGED_CALLS - set(EXEC_CALLS)))
)
SETFLAGS_IOCTLS = ("FS_IOC_SETFLAGS", "FS_IOC32_SETFLAGS")
