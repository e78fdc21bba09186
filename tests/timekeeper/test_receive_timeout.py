"""A receive on a socket with SO_RCVTIMEO is a timed wait: held with the socket's own timeout,
answered EAGAIN when it runs out, released when data comes. Decoded for this process (its
own sockets, read through pidfd_getfd as the keeper reads the sample's)."""

from __future__ import annotations

import errno
import os
import socket
import struct

from detonate.sandbox.timekeeper import waits
from detonate.sandbox.timekeeper.calls import NR
from detonate.sandbox.timekeeper.notify import Notification

NS = 1_000_000_000


def receive(sock: socket.socket) -> waits.Answer:
    note = Notification(1, os.getpid(), NR["recvfrom"], 0, (sock.fileno(), 0, 64, 0, 0, 0))
    return waits.decode(note, os.getpid(), waits.Now(virtual=5 * NS, offset=0))


def test_a_receive_with_a_timeout_is_held_until_it_or_data_comes() -> None:
    here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with here, there:
        here.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("<qq", 900, 0))
        hold = receive(here)
        assert isinstance(hold, waits.Hold)
        assert (hold.call, hold.requested_ns, hold.deadline) == ("recvfrom", 900 * NS, 905 * NS)
        assert hold.on_timeout == waits.Reply(error=errno.EAGAIN)
        assert not hold.probe.ready()
        there.send(b"answer")
        assert hold.probe.ready()  # the kernel re-runs the receive: it returns the answer
        hold.probe.close()
        assert isinstance(receive(here), waits.Proceed)  # data waiting: nothing to hold


def test_a_receive_without_a_timeout_or_non_blocking_is_left_to_the_kernel() -> None:
    here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with here, there:
        assert isinstance(receive(here), waits.Proceed)
        here.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("<qq", 900, 0))
        here.setblocking(False)
        assert isinstance(receive(here), waits.Proceed)
