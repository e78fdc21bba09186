import os
import subprocess
from pathlib import Path

from detonate.sandbox.netsim import payloads


def test_stand_in_elf_runs_and_prints_only_its_marker(tmp_path: Path) -> None:
    # our own hand-assembled bytes, not image content: safe to run on the host
    binary = tmp_path / "stand-in"
    binary.write_bytes(payloads.static_elf("detonate-netsim-stand-in elf /x"))
    os.chmod(binary, 0o755)
    done = subprocess.run([str(binary)], capture_output=True, text=True, timeout=5)
    assert done.returncode == 0
    assert done.stdout == "detonate-netsim-stand-in elf /x\n"


def test_kind_follows_what_was_asked_for() -> None:
    assert payloads.choose("/p.sh?x=1", "Wget").kind == "script"
    assert payloads.choose("/xmrig", "curl/8").kind == "elf"
    assert payloads.choose("/index.php", "curl/8").kind == "html"
    assert payloads.choose("/", "curl/8.1").kind == "script"
    assert payloads.choose("/", "Mozilla/5.0").kind == "html"
    assert payloads.choose("/xmrig", "curl", (("/xm*", "notfound"),)).status == 404


def test_script_quotes_the_path_inertly() -> None:
    body = payloads.shell_script("/a';rm -rf /;'.sh").decode()
    assert ";rm" not in body and body.startswith("#!/bin/sh\necho '")
