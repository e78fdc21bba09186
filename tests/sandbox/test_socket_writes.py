"""Which fds are sockets, followed through socket/connect/dup2/fork/close/open/exec: writes
(traced raw, without their fd's annotation) are sends only on sockets."""

from __future__ import annotations

from detonate.model.events import NetworkConnected, NetworkSent
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

PEER = "10.0.0.2:40000->192.0.2.1:80"
TRACE = f"""\
100 1000.1 execve("/bin/sh", ["sh"], 0x1 /* 1 var */) = 0
100 1000.2 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[11]>
100 1000.3 connect(3<TCP:[11]>, {{sa_family=AF_INET, sin_port=htons(80), \
sin_addr=inet_addr("192.0.2.1")}}, 16) = 0
100 1000.4 write(0x3, 0x7ffd0000, 0x10) = 0x10
100 1000.5 dup2(3<TCP:[{PEER}]>, 1</dev/null<char 1:3>>) = 1<TCP:[{PEER}]>
100 1000.6 write(0x1, 0x7ffd0000, 0x5) = 0x5
100 1000.7 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x1) = 101
101 1000.8 writev(0x1, 0x7ffd0000, 0x2) = 0x7
100 1000.9 close(1<TCP:[{PEER}]>) = 0
100 1001.0 openat(AT_FDCWD</>, "/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 1</tmp/x>
100 1001.1 write(0x1, 0x7ffd0000, 0x3) = 0x3
101 1001.2 execve("/bin/true", ["true"], 0x1 /* 1 var */) = 0
101 1001.3 write(0x3, 0x7ffd0000, 0x3) = 0x3
101 1001.4 write(0x1, 0x7ffd0000, 0x2) = 0x2
"""


def test_writes_count_as_sends_only_while_the_fd_is_a_socket() -> None:
    interpreter = TraceInterpreter(init_pid=100, t0=1000.0)
    interpreter.feed_lines(TRACE.splitlines(keepends=True))
    summary = interpreter.summary()

    assert summary.parse_errors == 0
    sends = [e for e in summary.events if isinstance(e, NetworkSent)]
    # fd 3 after the child's exec: closed (SOCK_CLOEXEC); fd 1 in the parent: a file by then
    assert [(e.pid, e.call, e.bytes) for e in sends] == [
        (100, "write", 16),
        (100, "write", 5),
        (101, "writev", 7),
        (101, "write", 2),
    ]
    assert all((e.address, e.port, e.protocol) == ("192.0.2.1", 80, "TCP") for e in sends)
    # the socket's own end, shown first by dup2, is filled in for the events before it too
    (connect,) = [e for e in summary.events if isinstance(e, NetworkConnected)]
    assert all((e.local_address, e.local_port) == ("10.0.0.2", 40000) for e in [connect, *sends])
