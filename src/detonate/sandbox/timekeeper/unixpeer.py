"""The peer of a unix socket, asked of the kernel (sock_diag's UNIX_DIAG_PEER).

asyncio's self-pipe is a `socketpair()`: two connected unix sockets, both held by the process.
/proc names a socket only by its inode, so which socket is the other's end is asked of the
kernel over netlink. The kernel looks the inode up in the asking socket's network namespace,
so the netlink socket is made in the sample's: in a thread of its own that enters that
namespace and ends (the keeper's threads stay where they are).
"""

from __future__ import annotations

import ctypes
import socket
import struct
import threading

CLONE_NEWNET = 0x40000000
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLMSG_ERROR = 2
UDIAG_SHOW_PEER = 0x4
UNIX_DIAG_PEER = 2
NO_COOKIE = 0xFFFFFFFF  # INET_DIAG_NOCOOKIE: look the socket up by its inode alone
ALL_STATES = 0xFFFFFFFF
TIMEOUT_SECONDS = 0.5

_NLMSGHDR = struct.Struct("=IHHII")
_UNIX_DIAG_REQ = struct.Struct("=BBHIIIII")
_UNIX_DIAG_MSG = struct.Struct("=BBBBIII")
_RTATTR = struct.Struct("=HH")

_libc = ctypes.CDLL(None, use_errno=True)


def peer(tgid: int, inode: int) -> int | None:
    """The inode of the unix socket `inode` (of process `tgid`) is connected to; None when it
    is not a connected unix socket or cannot be asked (the process is gone)."""
    sock = _diag_socket(tgid)
    if sock is None:
        return None
    with sock:
        sock.settimeout(TIMEOUT_SECONDS)
        request = _UNIX_DIAG_REQ.pack(
            socket.AF_UNIX, 0, 0, ALL_STATES, inode, UDIAG_SHOW_PEER, NO_COOKIE, NO_COOKIE
        )
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0
        )
        try:
            sock.send(header + request)
            reply = sock.recv(8192)
        except OSError:
            return None
    return _peer_in(reply, inode)


def _peer_in(reply: bytes, inode: int) -> int | None:
    """UNIX_DIAG_PEER of the answer about `inode`, if it carries one."""
    if len(reply) < _NLMSGHDR.size + _UNIX_DIAG_MSG.size:
        return None
    length, kind, _, _, _ = _NLMSGHDR.unpack_from(reply)
    if kind == NLMSG_ERROR or length > len(reply):
        return None
    if _UNIX_DIAG_MSG.unpack_from(reply, _NLMSGHDR.size)[4] != inode:
        return None
    at = _NLMSGHDR.size + _UNIX_DIAG_MSG.size
    while at + _RTATTR.size <= length:
        size, attr = _RTATTR.unpack_from(reply, at)
        if size < _RTATTR.size:
            return None
        if attr == UNIX_DIAG_PEER and size >= _RTATTR.size + 4:
            return int(struct.unpack_from("=I", reply, at + _RTATTR.size)[0])
        at += (size + 3) & ~3
    return None


def _diag_socket(tgid: int) -> socket.socket | None:
    """A sock_diag netlink socket in the network namespace of process `tgid`."""
    made: list[socket.socket] = []

    def make() -> None:
        try:
            with open(f"/proc/{tgid}/ns/net") as namespace:
                if _libc.setns(namespace.fileno(), CLONE_NEWNET) != 0:
                    return
            made.append(socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG))
        except OSError:
            return

    thread = threading.Thread(target=make, name="detonate-unixpeer", daemon=True)
    thread.start()
    thread.join()
    return made[0] if made else None
