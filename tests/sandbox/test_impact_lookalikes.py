"""Issue 9, items 4–5: impact and evasion behaviours against their benign look-alikes, in real
sandboxed scans of busybox images. Each benign case has a harmful twin that differs in the one
thing the detector judges, so a test that passes because nothing was seen at all fails on
the twin.

- Timestomping: a build step dates files it generated in its work tree after a source file
  (`touch -r configure.ac …`), and stamps a file with the current time; the twin dates a file
  it dropped among the libraries after busybox (`touch -r /bin/busybox /usr/lib/.hook`).
- Encryption for impact: a backup job gzips every data file and gzip removes the originals;
  the twin replaces every data file by random bytes of its size under a new extension and
  deletes the original (what a cipher without a header leaves).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detonate.factory import LayerSpec, write_oci_archive
from detonate.factory.busybox import busybox_layer
from detonate.factory.spec import FileSpec, ImageSpec
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Report
from detonate.pipeline import scan

from .busybox_image import sandbox_available

pytestmark = pytest.mark.sandbox

BUILD_STEP = """#!/bin/sh
set -e
cd /src
mkdir -p out
sed 's/@VERSION@/1.4/' configure.ac > out/config.h
echo 'int main(void) { return 0; }' > out/main.c
touch -r configure.ac out/config.h out/main.c
touch -d '2020-01-01 00:00:00' out/release.stamp
touch /usr/local/lib/app.stamp
echo built
"""
DROPPED_AND_DATED = """#!/bin/sh
printf '#!/bin/sh\\nsleep 1\\n' > /usr/lib/.hook
touch -r /bin/busybox /usr/lib/.hook
echo dated
"""
DATA = {
    f"/srv/data/{name}.csv": (
        f"id,{name},amount\n" + "".join(f"{i},{name}-{i},{i * 7}\n" for i in range(40))
    ).encode()
    for name in ("customers", "orders", "invoices", "refunds")
}
GZIP_BACKUP = """#!/bin/sh
for f in /srv/data/*.csv; do gzip -9 "$f"; done
ls /srv/data
"""
RANDOM_REPLACEMENT = """#!/bin/sh
for f in /srv/data/*.csv; do
  head -c "$(wc -c < "$f")" /dev/urandom > "$f.crypt" && rm "$f"
done
ls /srv/data
"""


def _scan(tmp_path: Path, name: str, script: str, extra: tuple[FileSpec, ...] = ()) -> Report:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    spec = ImageSpec(
        name=name,
        layers=(
            busybox_layer(),
            LayerSpec((*extra, FileSpec("/start.sh", content=script.encode(), mode=0o755))),
        ),
        entrypoint=("/start.sh",),
    )
    archive = tmp_path / f"{name}.oci.tar"
    write_oci_archive(spec, archive)
    # Each script exits by itself in a second or two; the timeout only bounds a machine so busy
    # that a few traced execs take longer than 20 s.
    options = ScanOptions(
        cache_dir=tmp_path / "cache", sandbox=SandboxOptions(timeout_seconds=60, idle_seconds=2)
    )
    report = scan(f"oci-archive:{archive}", options)
    assert report.error is None, report.error
    return report


def _fired(report: Report) -> dict[str, list[str]]:
    return {f.rule_id: [e.path for e in f.evidence] for f in report.findings}


def test_a_build_step_dating_its_own_outputs_is_not_timestomping(tmp_path: Path) -> None:
    source = FileSpec("/src/configure.ac", content=b"AC_INIT([app], [@VERSION@])\n")
    usr_local = FileSpec("/usr/local/lib", type="dir")
    report = _scan(tmp_path, "build-step", BUILD_STEP, (source, usr_local))
    assert "file-timestomp" not in _fired(report), _fired(report)


def test_a_dropped_file_dated_like_a_system_file_is_timestomping(tmp_path: Path) -> None:
    report = _scan(
        tmp_path, "dropped-and-dated", DROPPED_AND_DATED, (FileSpec("/usr/lib", type="dir"),)
    )
    assert "/usr/lib/.hook" in _fired(report).get("file-timestomp", []), _fired(report)


def _data() -> tuple[FileSpec, ...]:
    return tuple(FileSpec(path, content=content) for path, content in DATA.items())


def test_a_backup_that_gzips_files_and_removes_them_is_not_ransomware(tmp_path: Path) -> None:
    report = _scan(tmp_path, "gzip-backup", GZIP_BACKUP, _data())
    gzipped = {f.path for f in report.files if f.path.endswith(".csv.gz")}
    assert len(gzipped) == len(DATA), report.run  # the job did replace every file
    fired = _fired(report)
    assert "files-encrypted-for-impact" not in fired and "files-destroyed" not in fired, fired
    assert report.verdict.value == "clean"


def test_data_files_replaced_by_random_bytes_is_ransomware(tmp_path: Path) -> None:
    report = _scan(tmp_path, "random-replacement", RANDOM_REPLACEMENT, _data())
    encrypted = _fired(report).get("files-encrypted-for-impact", [])
    assert sorted(encrypted) == sorted(f"{path}.crypt" for path in DATA), (
        _fired(report),
        report.run,
        [(f.path, f.change.value) for f in report.files],
    )
    assert report.verdict.value == "malicious"
