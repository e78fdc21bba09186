"""What data provenance needs from the trace: writes to files and pipes (folded to the first
since the process last took input), and read opens of the files the run itself wrote."""

from __future__ import annotations

from detonate.model.events import DataWritten, FileOpenedForRead, NetworkSent
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

PEER = "10.0.0.2:40000->192.0.2.1:80"
# a downloader writes, connects, writes three times; a copier reads the download (and a file
# of the image) and writes the copy, which a rename moves; a reader of the renamed copy
TRACE = """\
100 1000.1 execve("/bin/sh", ["sh"], 0x1 /* 1 var */) = 0
100 1000.2 openat(AT_FDCWD</>, "/tmp/dl", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4</tmp/dl>
100 1000.3 write(0x4, 0x7ffd0000, 0x10) = 0x10
100 1000.4 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3<TCP:[11]>
100 1000.5 connect(3<TCP:[11]>, {sa_family=AF_INET, sin_port=htons(80), \
sin_addr=inet_addr("192.0.2.1")}, 16) = 0
100 1000.6 write(0x4, 0x7ffd0000, 0x200) = 0x200
100 1000.7 write(0x4, 0x7ffd0000, 0x200) = 0x200
100 1000.8 write(0x4, 0x7ffd0000, 0x20) = 0x20
100 1000.9 pipe2([5<pipe:[77]>, 6<pipe:[77]>], 0) = 0
100 1001.0 write(0x6, 0x7ffd0000, 0x8) = 0x8
100 1001.1 write(0x2, 0x7ffd0000, 0x8) = 0x8
100 1001.2 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x1) = 101
101 1001.3 execve("/bin/cp", ["cp", "/tmp/dl", "/tmp/copy"], 0x1 /* 1 var */) = 0
101 1001.4 openat(AT_FDCWD</>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
101 1001.5 openat(AT_FDCWD</>, "/tmp/dl", O_RDONLY) = 3</tmp/dl>
101 1001.6 openat(AT_FDCWD</>, "/tmp/copy", O_WRONLY|O_CREAT|O_EXCL, 0700) = 4</tmp/copy>
101 1001.7 write(0x4, 0x7ffd0000, 0x230) = 0x230
101 1001.8 rename("/tmp/copy", "/usr/lib/libx.so") = 0
101 1001.9 openat(AT_FDCWD</>, "/dev/null", O_WRONLY) = 5</dev/null>
101 1002.0 write(0x5, 0x7ffd0000, 0x4) = 0x4
101 1002.1 openat(AT_FDCWD</>, "/dev/shm/k", O_WRONLY|O_CREAT, 0600) = 6</dev/shm/k>
101 1002.2 write(0x6, 0x7ffd0000, 0x4) = 0x4
100 1002.3 openat(AT_FDCWD</>, "/usr/lib/libx.so", O_RDONLY) = 7</usr/lib/libx.so>
100 1002.4 openat(AT_FDCWD</>, "/tmp/missing", O_RDONLY) = -1 ENOENT (No such file)
"""


def _summary():
    interpreter = TraceInterpreter(init_pid=100, t0=1000.0)
    interpreter.feed_lines(TRACE.splitlines(keepends=True))
    summary = interpreter.summary()
    assert summary.parse_errors == 0
    return summary


def test_writes_fold_into_the_first_since_the_process_last_took_input() -> None:
    writes = [e for e in _summary().events if isinstance(e, DataWritten)]
    # /tmp/dl: once before the connect, once after it (three writes folded into it); the pipe;
    # the copy; /dev/shm kept, /dev/null and the terminal (fd 2, no path known) not
    assert [(e.pid, e.path, e.fd, e.bytes) for e in writes] == [
        (100, "/tmp/dl", 4, 0x10),
        (100, "/tmp/dl", 4, 0x200),
        (100, "pipe:[77]", 6, 8),
        (101, "/tmp/copy", 4, 0x230),
        (101, "/dev/shm/k", 6, 4),
    ]


def test_read_opens_are_events_only_for_files_the_run_wrote() -> None:
    events = _summary().events
    reads = [(e.pid, e.path, e.honeytoken) for e in events if isinstance(e, FileOpenedForRead)]
    # not /etc/ld.so.cache (the image's), not a failed open; the renamed copy by its new name
    assert reads == [(101, "/tmp/dl", ""), (100, "/usr/lib/libx.so", "")]
    order = [e.seq for e in events if isinstance(e, FileOpenedForRead | DataWritten)]
    assert order == sorted(order)


def test_copies_inside_the_kernel_are_writes_to_their_out_fd() -> None:
    # busybox cp uses sendfile, GNU cp copy_file_range; to a socket it is a send
    trace = f"""\
100 1000.1 execve("/bin/cp", ["cp", "a", "b"], 0x1 /* 1 var */) = 0
100 1000.2 sendfile(4</tmp/b>, 3</tmp/a>, NULL, 16777216) = 3
100 1000.3 sendfile(4</tmp/b>, 3</tmp/a>, NULL, 16777216) = 0
100 1000.4 copy_file_range(3</tmp/a>, NULL, 5</tmp/c>, NULL, 9223372035781033984, 0) = 3
100 1000.5 sendfile(6<TCP:[{PEER}]>, 3</tmp/a>, NULL, 3) = 3
"""
    interpreter = TraceInterpreter(init_pid=100, t0=1000.0)
    interpreter.feed_lines(trace.splitlines(keepends=True))
    events = interpreter.summary().events
    writes = [(e.path, e.fd, e.bytes) for e in events if isinstance(e, DataWritten)]
    assert writes == [("/tmp/b", 4, 3), ("/tmp/c", 5, 3)]
    sends = [(e.address, e.port, e.call) for e in events if isinstance(e, NetworkSent)]
    assert sends == [("192.0.2.1", 80, "sendfile")]
