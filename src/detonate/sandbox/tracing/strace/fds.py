"""What each fd of a traced process is: a socket (with its ends), a pipe, a file, runc's
output log. Followed through the calls that make, copy and close fds, as strace -yy shows them:

    pipe2([3<pipe:[302913]>, 4<pipe:[302913]>], O_CLOEXEC) = 0
    dup2(4<pipe:[12]>, 1</dev/null<char 1:3>>) = 1<pipe:[12]>
    accept4(3<TCP:[0.0.0.0:4444]>, …, SOCK_CLOEXEC) = 5<TCP:[10.0.0.2:4444->192.0.2.7:5123]>

ProcessExecuted.stdin/stdout/stderr and the sockets behind write() come from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from detonate.sandbox.tracing.strace.lines import (
    Syscall,
    fd_annotation,
    int_arg,
    split_args,
    unquote,
)

# The file runc gave the container as stdout/stderr (the run's output.log on the host).
CONTAINER_OUTPUT = "container-output"


@dataclass
class Socket:
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
            local = endpoint_text(self.local_address, self.local_port) if self.local_port else "?"
            text = f"{kind}:[{local}->{endpoint_text(self.address, self.port)}]"
        return "socket:" + text


@dataclass
class FdTable:
    """One process's fds. A forked child starts with a copy; its sockets are the same objects
    (a connect in the child shows in the parent's view too, as in the kernel).

    `host_names` maps host paths to what they are to us (runc's stdio: CONTAINER_OUTPUT)."""

    host_names: Mapping[str, str] = field(default_factory=dict)
    sockets: dict[int, Socket] = field(default_factory=dict)  # fd → socket
    paths: dict[int, str] = field(default_factory=dict)  # fd → "pipe:[12]", "/dev/null"
    cloexec: set[int] = field(default_factory=set)  # fds an exec closes

    def copy(self) -> FdTable:
        return FdTable(self.host_names, dict(self.sockets), dict(self.paths), set(self.cloexec))

    def describe_annotation(self, annotation: str) -> str:
        """-yy fd annotation → fd description: "/dev/null<char 1:3>" → "/dev/null"."""
        text = _DEVICE_NUMBERS.sub("", annotation)
        return self.host_names.get(text, text)

    def describe(self, fd: int) -> str:
        sock = self.sockets.get(fd)
        return sock.describe() if sock is not None else self.paths.get(fd, "")

    def stdio(self) -> tuple[str, str, str]:
        return self.describe(0), self.describe(1), self.describe(2)

    def forget(self, fd: int) -> None:
        self.sockets.pop(fd, None)
        self.paths.pop(fd, None)
        self.cloexec.discard(fd)

    def clear(self) -> None:
        self.sockets.clear()
        self.paths.clear()

    def exec_closes(self) -> None:
        """A successful exec closed the close-on-exec fds."""
        for fd in self.cloexec:
            self.sockets.pop(fd, None)
            self.paths.pop(fd, None)
        self.cloexec.clear()

    def opened(self, fd: int, annotation: str, path: str, cloexec: bool) -> str:
        """open*/memfd_create returned `fd`; what it now is."""
        self.forget(fd)
        self.paths[fd] = self.describe_annotation(annotation) if annotation else path
        if cloexec:
            self.cloexec.add(fd)
        return self.paths[fd]

    def socket_made(self, fd: int, family: str, annotation: str, cloexec: bool) -> None:
        """socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3<TCP:[94831]>"""
        self.forget(fd)
        if (kind := socket_kind(annotation)) is not None:
            self.sockets[fd] = Socket(kind[0], family=family, annotation=annotation)
            if cloexec:
                self.cloexec.add(fd)

    def learn(self, fd: int, annotation: str) -> Socket | None:
        """What an fd argument's -yy annotation says about the socket behind it. The caller
        fills the socket's `waiting` events when this made its local end known."""
        if not annotation:
            return self.sockets.get(fd)
        kind = socket_kind(annotation)
        if kind is None:
            self.sockets.pop(fd, None)  # a file or pipe now
            self.paths[fd] = self.describe_annotation(annotation)
            return None
        protocol, family, inner = kind
        sock = self.sockets.get(fd)
        if sock is None or sock.protocol != protocol:
            self.paths.pop(fd, None)
            sock = self.sockets[fd] = Socket(protocol, family=family)
        if "->" in annotation or "->" not in sock.annotation:
            sock.annotation = annotation
        local, remote = socket_ends(inner)
        if remote is not None and not sock.address:
            sock.address, sock.port = remote
        if local is not None and local[1] and not sock.local_port:
            sock.local_address, sock.local_port = local
        return sock

    def follow(self, r: Syscall, fd: int, source: Socket | None) -> None:
        """close, dup*, fcntl, accept* of `fd`: `source` is what learn() made of it."""
        a, name = r.args, r.name
        if name == "close":
            self.forget(fd)
            return
        if not r.succeeded or r.ret is None:
            return
        command = a[1] if len(a) > 1 else ""
        if name == "fcntl" and command == "F_SETFD":
            if "FD_CLOEXEC" in r.raw_args:
                self.cloexec.add(fd)
            else:
                self.cloexec.discard(fd)
            return
        if name == "fcntl" and command not in ("F_DUPFD", "F_DUPFD_CLOEXEC"):
            return
        if name != "fcntl" and not name.startswith("accept") and r.ret == fd:
            return  # dup2(1, 1): nothing changes
        self.forget(r.ret)
        if name.startswith("accept"):
            kind = socket_kind(r.ret_annotation)
            if kind is None:
                return
            accepted = self.sockets[r.ret] = Socket(kind[0], family=kind[1])
            local, remote = socket_ends(kind[2])
            if local is not None:
                accepted.local_address, accepted.local_port = local
            if remote is not None:
                accepted.address, accepted.port = remote
            accepted.annotation = r.ret_annotation
        elif source is not None:
            self.sockets[r.ret] = source  # dup: the same socket under a second number
        elif r.ret_annotation or fd in self.paths:
            # dup2(4<pipe:[12]>, 1</dev/null<char 1:3>>) = 1<pipe:[12]>
            self.paths[r.ret] = (
                self.describe_annotation(r.ret_annotation) if r.ret_annotation else self.paths[fd]
            )
        else:
            return
        if "CLOEXEC" in r.raw_args:  # accept4/dup3 flags, F_DUPFD_CLOEXEC
            self.cloexec.add(r.ret)

    def close_range(self, r: Syscall) -> None:
        """close_range(3, 4294967295, CLOSE_RANGE_CLOEXEC) = 0"""
        a = r.args
        low, high = int_arg(a[0]), int_arg(a[1]) if a[1].strip().isdecimal() else 1 << 31
        for fd in [fd for fd in {*self.sockets, *self.paths} if low <= fd <= high]:
            if "CLOSE_RANGE_CLOEXEC" in r.raw_args:
                self.cloexec.add(fd)
            else:
                self.forget(fd)

    def pair(self, r: Syscall) -> None:
        """pipe2([3<pipe:[302913]>, 4<pipe:[302913]>], O_CLOEXEC) = 0, and
        socketpair(AF_UNIX, SOCK_STREAM, 0, [3<UNIX-STREAM:[7]>, 4<UNIX-STREAM:[8]>]) = 0."""
        if not r.succeeded or not r.args:
            return
        listed = r.args[3] if r.name == "socketpair" and len(r.args) > 3 else r.args[0]
        ends = [fd_annotation(x) for x in split_args(listed.strip().strip("[]"))]
        for fd_text, annotation in ends:
            fd = int_arg(fd_text)
            self.forget(fd)
            if r.name == "socketpair":
                kind = socket_kind(annotation)
                self.sockets[fd] = Socket(
                    kind[0] if kind else "UNIX", family="AF_UNIX", annotation=annotation
                )
            else:
                self.paths[fd] = self.describe_annotation(annotation) or "pipe"
            if "CLOEXEC" in r.raw_args:
                self.cloexec.add(fd)


# "/dev/null<char 1:3>": -yy adds device numbers to device files
_DEVICE_NUMBERS = re.compile(r"<(?:char|block) \d+:\d+>$")


def endpoint_text(host: str, port: int) -> str:
    if not port:
        return host  # a unix socket's path
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}
# {sa_family=AF_INET6, sin6_port=htons(443), …, inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), …}
# {sa_family=AF_UNIX, sun_path="/var/run/docker.sock"}
def sockaddr(text: str) -> tuple[str, str, int]:
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
def from_socket_annotation(sock: str, remote: bool) -> tuple[str, str, int]:
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


def socket_kind(annotation: str) -> tuple[str, str, str] | None:
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
def socket_ends(inner: str) -> tuple[Endpoint | None, Endpoint | None]:
    def endpoint(text: str) -> Endpoint | None:
        host, _, port = text.rpartition(":")
        return (host.strip("[]"), int(port)) if host and port.isdecimal() else None

    local, arrow, remote = inner.partition("->")
    return endpoint(local), endpoint(remote) if arrow else None
