"""A process that holds a listening TCP socket serves: its silent rounds (memcached's 1 s
ticks) are housekeeping, which the keeper's horizon stops (keeper._jump). Read from /proc for
helper processes of this test, as the keeper reads the sample's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from detonate.sandbox.timekeeper import serving

HOLDS = {
    "listener": "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()",
    "listener6": "s = socket.socket(socket.AF_INET6); s.bind(('::1', 0)); s.listen()",
    "client": "s = socket.socket(); s.bind(('127.0.0.1', 0))",
    "udp": "s = socket.socket(type=socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))",
}


@contextmanager
def holding(kind: str) -> Iterator[int]:
    code = f"import socket, sys\n{HOLDS[kind]}\nprint('ready', flush=True)\nsys.stdin.read()"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_a_process_with_a_listening_tcp_socket_serves() -> None:
    with holding("listener") as pid:
        assert serving.listens(pid)
    with holding("listener6") as pid:
        assert serving.listens(pid)


def test_a_bound_socket_that_does_not_listen_is_no_server() -> None:
    with holding("client") as pid:
        assert not serving.listens(pid)
    with holding("udp") as pid:
        assert not serving.listens(pid)


def test_a_listener_of_another_process_is_not_this_ones() -> None:
    """The namespace's table lists every listener: only the process's own fds count."""
    with holding("listener"), holding("client") as pid:
        assert not serving.listens(pid)


def test_a_gone_process_serves_nothing() -> None:
    with holding("listener") as pid:
        pass
    assert not serving.listens(pid)


def test_servers_walk_a_namespace_s_tables_once_while_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shell's countdown is a new process each round: reading /proc/net/tcp for each would
    cost milliseconds a round. One namespace, one read while it is fresh; each process's own
    fds still decide."""
    reads: list[int] = []
    real = serving._listening_inodes

    def counted(pid: int) -> set[str]:
        reads.append(pid)
        return real(pid)

    monkeypatch.setattr(serving, "_listening_inodes", counted)
    servers = serving.Servers(fresh_seconds=3600)
    with holding("listener") as server, holding("client") as client:
        assert servers.listens(server)
        assert not servers.listens(client)
    assert len(reads) == 1
    stale = serving.Servers(fresh_seconds=0)
    with holding("client") as client:
        assert not stale.listens(client) and not stale.listens(client)
    assert len(reads) == 3
