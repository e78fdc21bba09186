"""strace's renderings of flags and arguments → the typed fields events carry, decoded once here
so that no detector parses strace text.

    O_WRONLY|O_CREAT|O_APPEND                         → append, created
    [FS_IMMUTABLE_FL|FS_EXTENT_FL]                    → ("immutable", "extent")
    mount("/dev/sda1", "/mnt/host", "ext4", MS_RDONLY, NULL)
                                                      → source, path, fstype, flags
    mknodat(AT_FDCWD</>, "/tmp/d", S_IFBLK|0600, makedev(0x8, 0x1))
                                                      → node_type "block", device 8:1
    ptrace(PTRACE_ATTACH, 1234, NULL, NULL)           → request, target_pid
    [{tv_sec=1551694920, tv_nsec=0} /* 2019-03-04… */, UTIME_NOW]
                                                      → access 1551694920.0, now
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from detonate.sandbox.tracing.strace.lines import fd_annotation, int_arg, unquote


@dataclass(frozen=True)
class OpenFlags:
    read_only: bool  # neither O_WRONLY nor O_RDWR
    writes: bool  # any flag that changes the file: write access, create, truncate, append
    created: bool  # O_CREAT
    truncated: bool  # O_TRUNC
    append: bool  # O_APPEND
    cloexec: bool  # O_CLOEXEC


WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def open_flags(text: str) -> OpenFlags:
    """`O_WRONLY|O_CREAT|O_APPEND` (openat2's `{flags=…, mode=…}` already unwrapped)."""
    names = set(flag_names(text))
    return OpenFlags(
        read_only=not names & {"O_WRONLY", "O_RDWR"},
        writes=bool(names & set(WRITE_FLAGS)),
        created="O_CREAT" in names,
        truncated="O_TRUNC" in names,
        append="O_APPEND" in names,
        cloexec="O_CLOEXEC" in names,
    )


def flag_names(text: str) -> tuple[str, ...]:
    """`MS_RDONLY|MS_NOSUID|0x8000` → ("MS_RDONLY", "MS_NOSUID"): the named flags; numbers
    (bits strace has no name for, file modes) and NULL/0 left out."""
    names = (part.strip() for part in text.strip().strip("[]").split("|"))
    return tuple(n for n in names if n and n[0].isalpha() and n != "NULL")


# FS_IMMUTABLE_FL → "immutable", FS_APPEND_FL → "append" (chattr's own words: +i, +a)
_ATTRIBUTE = re.compile(r"^FS_(\w+?)_FL$")


def file_attributes(text: str) -> tuple[str, ...]:
    """ioctl(…, FS_IOC_SETFLAGS, [FS_IMMUTABLE_FL|FS_EXTENT_FL]) → ("immutable", "extent")."""
    out = []
    for name in flag_names(text):
        m = _ATTRIBUTE.match(name)
        out.append(m[1].lower() if m else name.lower())
    return tuple(out)


# makedev(0x8, 0x1), makedev(8, 1)
_MAKEDEV = re.compile(r"makedev\((0x[0-9a-f]+|\d+),\s*(0x[0-9a-f]+|\d+)\)")
_NODE_TYPES = {
    "S_IFBLK": "block",
    "S_IFCHR": "char",
    "S_IFIFO": "fifo",
    "S_IFSOCK": "socket",
    "S_IFREG": "file",
}


def _text(arg: str) -> str:
    """A string argument, or "" for NULL and pointers strace did not follow."""
    arg = arg.strip()
    return unquote(arg) if arg.startswith('"') else ""


# The typed fields of PrivilegedAttempt, per call: `args` are strace's top-level arguments,
# `path` resolves a path argument (with its dirfd) the way the interpreter resolves every path.
PathOf = Callable[[str, str], str]


def privileged_fields(call: str, args: Sequence[str], path_of: PathOf) -> dict[str, object]:
    a = (*args, "", "", "", "", "")

    def path(index: int, dirfd: int = -1) -> str:
        text = _text(a[index])
        return path_of(a[index], a[dirfd] if dirfd >= 0 else "") if text else ""

    if call == "mount":
        return {
            "source": _text(a[0]),
            "path": path(1),
            "fstype": _text(a[2]),
            "flags": flag_names(a[3]),
        }
    if call == "umount2":
        return {"path": path(0), "flags": flag_names(a[1])}
    if call in ("chroot", "pivot_root"):
        return {"path": path(0)}
    if call in ("mknod", "mknodat"):
        at = call == "mknodat"
        mode = a[2] if at else a[1]
        fields: dict[str, object] = {"path": path(1, 0) if at else path(0)}
        node_type = next((t for flag, t in _NODE_TYPES.items() if flag in mode), "")
        fields["node_type"] = node_type
        device = _MAKEDEV.search(a[3] if at else a[2])
        if device is not None and node_type in ("block", "char"):
            fields["device_major"] = int(device[1], 0)
            fields["device_minor"] = int(device[2], 0)
        return fields
    if call == "ptrace":
        return {"request": a[0].strip(), "target_pid": int_arg(a[1])}
    if call == "process_vm_writev":
        return {"target_pid": int_arg(a[0])}
    if call == "setns":
        return {"path": fd_annotation(a[0])[1], "flags": flag_names(a[1])}
    if call == "unshare":
        return {"flags": flag_names(a[0])}
    if call == "memfd_create":
        return {"name": _text(a[0]), "flags": flag_names(a[1])}
    if call == "finit_module":
        return {"path": fd_annotation(a[0])[1], "flags": flag_names(a[2])}
    if call == "delete_module":
        return {"name": _text(a[0]), "flags": flag_names(a[1])}
    if call == "open_by_handle_at":
        return {"path": fd_annotation(a[0])[1], "flags": flag_names(a[2])}
    if call in ("bpf", "keyctl", "personality"):
        return {"request": a[0].strip()}
    if call == "reboot":
        return {"request": a[2].strip()}
    return {}


@dataclass(frozen=True)
class FileTimes:
    """The times a utimensat/futimesat/utimes/utime call asked for (see FileTimesChanged)."""

    access: float | None = None
    modify: float | None = None
    now: bool = False


# one element of utimensat's/utimes' array: UTIME_NOW, UTIME_OMIT, {tv_sec=N, tv_nsec=M}
_TIME_ELEMENT = re.compile(r"UTIME_NOW|UTIME_OMIT|\{tv_sec=(-?\d+), tv_(n|u)sec=(\d+)\}")
# utime's struct utimbuf: {actime=1551694920 /* … */, modtime=1551694920 /* … */}
_UTIMBUF = re.compile(r"actime=(-?\d+).*?modtime=(-?\d+)")


def file_times(call: str, times_arg: str) -> FileTimes:
    """The `times` argument of a time-setting call; NULL sets both to now. A pointer strace
    could not read gives nothing (neither a time nor now)."""
    text = times_arg.strip()
    if text == "NULL":
        return FileTimes(now=True)
    if call == "utime":
        m = _UTIMBUF.search(text)
        return FileTimes(float(m[1]), float(m[2])) if m else FileTimes()
    values: list[float | None] = []
    now = False
    for m in _TIME_ELEMENT.finditer(text):
        if m[0] == "UTIME_NOW":
            now = True
            values.append(None)
        elif m[0] == "UTIME_OMIT":
            values.append(None)
        else:
            fraction = int(m[3]) / (1e9 if m[2] == "n" else 1e6)
            values.append(int(m[1]) + fraction)
    if len(values) != 2:
        return FileTimes()
    return FileTimes(values[0], values[1], now)
