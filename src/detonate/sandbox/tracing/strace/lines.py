"""strace output lines → syscall records. No meaning attached here, only structure.

The tracer runs `strace -f -ttt -yy -o FILE`, so every line starts with the pid and an epoch
timestamp. The shapes this module reads:

    15738 1795814473.938736 connect(3<TCP:[20622]>, {…}, 16) = -1 ECONNREFUSED (Connection …)
    15731 1795814473.922993 clone(child_stack=NULL, flags=…|SIGCHLD <unfinished ...>
    15731 1795814473.923249 <... clone resumed>, child_tidptr=0x52c2690) = 15736
    8902  1795814447.815601 clock_nanosleep(…, {tv_sec=600, tv_nsec=0}, …) = 0 (INJECTED) (DELAYED)
    15733 1795814473.922390 +++ exited with 1 +++
    15733 1795814473.922390 +++ killed by SIGKILL (core dumped) +++
    15731 1795814473.922390 +++ superseded by execve in pid 15740 +++
    15731 1795814473.922390 --- SIGCHLD {si_signo=SIGCHLD, …} ---
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_HEAD = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_EXITED = re.compile(r"^\+\+\+ exited with (-?\d+) \+\+\+$")
_KILLED = re.compile(r"^\+\+\+ killed by (SIG\w+)(?: \(core dumped\))? \+\+\+$")
_SUPERSEDED = re.compile(r"^\+\+\+ superseded by execve in pid (\d+) \+\+\+$")
_SIGNAL = re.compile(r"^--- (SIG\w+) .*---$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_UNFINISHED = " <unfinished ...>"
_CALL = re.compile(r"^(\w+)\((.*)$")
# " = -1 EPERM (Operation not permitted) (INJECTED)", " = 3</tmp/x>", " = ?"
# " = 6 /* 23485 in strace's PID NS */" (--pidns-translation: the host pid of a new child)
# " = 0x7c" (calls traced raw)
# " = 3</memfd:payload>(deleted)" (an unlinked file: strace puts the mark after the `>`)
_RESULT = re.compile(
    r"^\s*=\s*(\?|0x[0-9a-f]+|-?\d+)(?: /\* (\d+) in strace's PID NS \*/)?(<.*>)?"
    r"(\(deleted\))?(?:\s+(E[A-Z0-9]+)\s+\([^)]*\))?(.*)$"
)
DELETED = "(deleted)"


@dataclass(frozen=True)
class Syscall:
    pid: int  # thread id as strace saw it
    ts: float
    name: str
    args: tuple[str, ...]  # top-level arguments as strace rendered them
    raw_args: str
    ret: int | None  # None for "?" (the call did not return: exit, execve of a dying thread)
    ret_host_pid: int | None  # clone/fork: the child's pid in the host namespace
    ret_annotation: str  # "/tmp/x" from " = 3</tmp/x>", "" when none
    errno: str  # "ENOENT", "" on success
    injected: bool

    @property
    def succeeded(self) -> bool:
        return not self.errno and (self.ret is None or self.ret >= 0)


@dataclass(frozen=True)
class Exit:
    pid: int
    ts: float
    code: int | None
    signal: str = ""


@dataclass(frozen=True)
class Superseded:
    """A non-leader thread exec'd: from now on it is `pid` (the thread group leader)."""

    pid: int
    ts: float
    former_tid: int


@dataclass(frozen=True)
class SignalDelivered:
    pid: int
    ts: float
    signal: str


@dataclass(frozen=True)
class Unparsed:
    line: str


@dataclass(frozen=True)
class Lost:
    """A line cut off (the trace's last line without its newline: strace was killed mid-write)
    or a `<... resumed>` whose start was never written."""

    line: str


Record = Syscall | Exit | Superseded | SignalDelivered | Unparsed | Lost


def read_records(lines: Iterable[str]) -> Iterator[Record]:
    """Join unfinished/resumed pairs per thread and yield one record per completed event."""
    pending: dict[int, tuple[float, str]] = {}  # tid → (ts of entry, "name(args-so-far")
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        if not raw.endswith("\n"):
            yield Lost(line)  # only the last line can lack it
            continue
        head = _HEAD.match(line)
        if head is None:
            yield Unparsed(line)
            continue
        pid, ts, body = int(head[1]), float(head[2]), head[3]
        if body.endswith(_UNFINISHED):
            pending[pid] = (ts, body[: -len(_UNFINISHED)])
            continue
        resumed = _RESUMED.match(body)
        if resumed is not None:
            entry = pending.pop(pid, None)
            if entry is None:
                yield Lost(line)
                continue
            ts, body = entry[0], entry[1] + resumed[2]
        record = _parse_body(pid, ts, body)
        if isinstance(record, Superseded) and record.former_tid in pending:
            # the exec'ing thread's execve resumes under the leader's pid
            pending[record.pid] = pending.pop(record.former_tid)
        yield record if record is not None else Unparsed(line)
    for pid, (ts, body) in pending.items():
        # Still blocked when the trace ended (a sleeping server): the call never returned.
        record = _parse_body(pid, ts, body + ") = ?")
        yield record if record is not None else Unparsed(f"{pid} {ts} {body}")


def _parse_body(pid: int, ts: float, body: str) -> Record | None:
    if body.startswith("+++"):
        if m := _EXITED.match(body):
            return Exit(pid, ts, int(m[1]))
        if m := _KILLED.match(body):
            return Exit(pid, ts, None, m[1])
        if m := _SUPERSEDED.match(body):
            # printed by the leader: "2136 +++ superseded by execve in pid 2165 +++"
            return Superseded(pid, ts, former_tid=int(m[1]))
        return None
    if body.startswith("---"):
        m = _SIGNAL.match(body)
        return SignalDelivered(pid, ts, m[1]) if m else None
    call = _CALL.match(body)
    if call is None:
        return None
    name, rest = call[1], call[2]
    close = _matching_paren(rest)
    if close < 0:
        return None
    raw_args = rest[:close]
    result = _RESULT.match(rest[close + 1 :])
    if result is None:
        return None
    ret_text, host_pid, annotation = result[1], result[2], result[3] or ""
    if result[4]:
        annotation = annotation[:-1] + " " + DELETED + ">"
    errno, tail = result[5] or "", result[6]
    ret = None if ret_text == "?" else int(ret_text, 16 if ret_text.startswith("0x") else 10)
    return Syscall(
        pid=pid,
        ts=ts,
        name=name,
        args=tuple(split_args(raw_args)),
        raw_args=raw_args,
        ret=ret,
        ret_host_pid=int(host_pid) if host_pid else ret,
        ret_annotation=annotation[1:-1],
        errno=errno,
        injected="(INJECTED)" in tail,
    )


def _matching_paren(text: str) -> int:
    """Index of the `)` closing the call's argument list (text starts after the `(`)."""
    depth = 0
    in_string = False
    i = 0
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                return i if c == ")" else -1
            depth -= 1
        i += 1
    return -1


def split_args(text: str) -> list[str]:
    """Split at top-level commas: quotes, brackets and `<fd path>` annotations kept whole.

    `3<TCP:[1.2.3.4:5->6.7.8.9:80]>, {sa_family=AF_INET, …}, 16` → three arguments.
    """
    args: list[str] = []
    depth = 0
    in_string = False
    in_angle = False
    start = 0
    i = 0
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif in_angle:
            if c == ">" and (i + 1 == len(text) or text[i + 1] in ",)]} "):
                in_angle = False
            elif c == ">" and text.startswith(DELETED, i + 1):
                in_angle = False  # "3</memfd:x>(deleted), …"
                i += len(DELETED)
        elif c == '"':
            in_string = True
        elif c == "<" and i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
            in_angle = True  # fd annotation: "3</tmp/x>", "AT_FDCWD</root>"
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    tail = text[start:].strip()
    if tail or args:
        args.append(tail)
    return args


_HEX = "0123456789abcdefABCDEF"
_OCTAL = "01234567"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", '"': '"', "\\": "\\"}


def unquote(text: str) -> str:
    """strace's C string → Python text: `"a\\nb"...` → "a\\nb" (truncation marker dropped)."""
    text = text.strip()
    if text.endswith("..."):
        text = text[:-3]
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    body = text[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            digits = body[i + 2 : i + 4]
            if n == "x" and len(digits) == 2 and all(d in _HEX for d in digits):
                out.append(int(digits, 16))
                i += 4
                continue
            if n in _OCTAL:
                j = i + 1
                while j < len(body) and j < i + 4 and body[j] in _OCTAL:
                    j += 1
                out.append(int(body[i + 1 : j], 8) & 0xFF)
                i = j
                continue
            out.extend(_ESCAPES.get(n, n).encode("utf-8", "surrogateescape"))
            i += 2
            continue
        out.extend(c.encode("utf-8", "surrogateescape"))  # a raw byte the trace file held
        i += 1
    return out.decode("utf-8", "backslashreplace")  # never a lone surrogate in a report


def fd_annotation(arg: str) -> tuple[str, str]:
    """`3</tmp/x>` → ("3", "/tmp/x"); `AT_FDCWD</>` → ("AT_FDCWD", "/"); no `<`: (arg, "");
    `3</memfd:x>(deleted)` → ("3", "/memfd:x (deleted)")."""
    lt = arg.find("<")
    if lt > 0 and arg.endswith(">" + DELETED):
        return arg[:lt], arg[lt + 1 : -len(DELETED) - 1] + " " + DELETED
    if lt <= 0 or not arg.endswith(">"):
        return arg, ""
    return arg[:lt], arg[lt + 1 : -1]


def string_list(arg: str) -> tuple[str, ...]:
    """`["sh", "-c", "x, y"]` → ("sh", "-c", "x, y")."""
    arg = arg.strip()
    if arg.endswith("..."):
        arg = arg[:-3]
    if not (arg.startswith("[") and arg.endswith("]")):
        return ()
    return tuple(unquote(a) for a in split_args(arg[1:-1]) if a)


def int_arg(text: str, base: int = 0) -> int:
    """`"0755"`, `"-1"`, `"1 /* 23472 in strace's PID NS */"` (the pid the sample named)."""
    try:
        return int(text.split("/*")[0].strip(), base)
    except ValueError:
        return 0
