"""Issue 9, item 1: a run is a recorded artifact and detection a pure function of it. Real
sandboxed scans of factory images keep their artifacts; `detonate rejudge` judges the recorded
run again, after the image's unpacked files are gone from the cache."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from detonate.cli.main import main
from detonate.factory import LayerSpec, write_oci_archive
from detonate.factory.busybox import busybox_layer
from detonate.factory.spec import FileSpec, ImageSpec
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Report, Verdict
from detonate.pipeline import rejudge, scan
from detonate.report import json_report
from detonate.rules.loader import forget_fingerprints, ruleset_hash
from detonate.run_record import RECORD_NAME, find_run_record, load_run_record

from .busybox_image import sandbox_available

# The image already has a uid-0 account of its own (operator): only the one the run adds is
# new, which the account detector can tell only from the image's /etc/passwd.
IMAGE_PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\noperator:x:0:0:operator:/root:/sbin/nologin\n"
    b"app:x:1000:1000:app:/home/app:/bin/sh\n"
)
# Adds a uid-0 account, copies itself into a hidden directory and runs the copy.
START = """#!/bin/sh
if [ "$1" != again ]; then
  echo 'sysadm:x:0:0::/var/lib/.sysadm:/bin/sh' >> /etc/passwd
  mkdir -p /tmp/.cache && cp "$0" /tmp/.cache/kworker && exec /tmp/.cache/kworker again
fi
echo ran-from-hidden
"""
# A user's runtime rule, written after the scan, that no built-in rule is.
USER_RULE = """title: Lines appended to the account database (test rule)
why: >
  A test rule added after the scan: rejudging the recorded run must find it.
severity: low
confidence: low
category: weaponization
technique: T1098
subject: file_change
match:
  path: {is: /etc/passwd}
  append: {is: true}
"""


def _scan(tmp_path: Path) -> tuple[Report, Path]:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    spec = ImageSpec(
        name="account-and-hidden-run",
        layers=(
            busybox_layer(),
            LayerSpec(
                (
                    FileSpec("/etc/passwd", content=IMAGE_PASSWD),
                    FileSpec("/start.sh", content=START.encode(), mode=0o755),
                )
            ),
        ),
        entrypoint=("/start.sh",),
    )
    archive = tmp_path / "image.oci.tar"
    write_oci_archive(spec, archive)
    artifacts = tmp_path / "artifacts"
    options = ScanOptions(
        cache_dir=tmp_path / "cache",
        artifacts_dir=artifacts,
        sandbox=SandboxOptions(timeout_seconds=20, idle_seconds=2),
    )
    report = scan(f"oci-archive:{archive}", options)
    assert report.error is None, report.error
    # Detection must need nothing of the image but the record: its unpacked layers go.
    shutil.rmtree(tmp_path / "cache")
    return report, artifacts


def _judged(report: Report) -> dict[str, object]:
    document = json_report.to_document(report)
    keys = ("findings", "suppressed", "verdict", "score", "iocs", "detector_failures")
    return {key: document[key] for key in keys}


@pytest.mark.sandbox
def test_a_recorded_run_rejudged_gives_the_original_findings_and_verdict(tmp_path: Path) -> None:
    original, artifacts = _scan(tmp_path)
    rules = {f.rule_id: f for f in original.findings}
    assert {"exec-from-hidden-path", "new-uid0-account"} <= set(rules), sorted(rules)
    (added,) = rules["new-uid0-account"].evidence
    assert added.description.endswith(": sysadm"), added.description  # not operator

    record_file = find_run_record(artifacts)
    assert record_file.name == RECORD_NAME
    record = load_run_record(record_file)
    assert record.image_files["/etc/passwd"] == IMAGE_PASSWD  # read by the account detector
    assert record.image_files["/start.sh"] == START.encode()  # the script the sample ran
    assert len(record.result.events) == original.run.events

    again = rejudge(record_file.parent)
    assert _judged(again) == _judged(original)
    assert again.verdict is not Verdict.ERROR
    assert again.ruleset_hash == original.ruleset_hash == ruleset_hash()
    assert again.image == original.image
    assert again.run == original.run
    json_report.validate(json_report.to_document(again))


@pytest.mark.sandbox
def test_a_rule_added_after_the_scan_fires_on_rejudge(tmp_path: Path) -> None:
    original, artifacts = _scan(tmp_path)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "user-passwd-append.yaml").write_text(USER_RULE)
    forget_fingerprints()
    out = tmp_path / "rejudged.json"

    code = main(
        ["rejudge", str(artifacts), "--rules", str(rules_dir), "--format", "json", "-o", str(out)]
    )

    document = json.loads(out.read_text())
    json_report.validate(document)
    found = {f["rule_id"]: f for f in document["findings"]}
    assert "user-passwd-append" not in {f.rule_id for f in original.findings}
    (evidence,) = found["user-passwd-append"]["evidence"]
    assert evidence["path"] == "/etc/passwd", evidence
    assert set(found) - {"user-passwd-append"} == {f.rule_id for f in original.findings}
    assert document["ruleset_hash"] == ruleset_hash(rules_dir) != original.ruleset_hash
    assert code == (1 if document["verdict"] == "malicious" else 0)


@pytest.mark.sandbox
def test_a_corrupt_or_newer_record_is_a_clear_cli_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, artifacts = _scan(tmp_path)
    record_file = find_run_record(artifacts)
    document = json.loads(gzip.decompress(record_file.read_bytes()))

    record_file.write_bytes(gzip.compress(json.dumps({**document, "version": 99}).encode()))
    assert main(["rejudge", str(artifacts)]) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "format version 99, newer than this detonate reads (1)" in err, err

    record_file.write_bytes(gzip.compress(b'{"format": "detonate-run-record", "version": 1, '))
    assert main(["rejudge", str(artifacts)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is corrupt: not JSON" in err and "Traceback" not in err, err

    record_file.write_bytes(record_file.read_bytes()[:40])  # a gzip stream cut short
    assert main(["rejudge", str(record_file)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is corrupt" in err and "Traceback" not in err, err
