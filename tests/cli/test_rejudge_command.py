"""`detonate rejudge` on a run record written here (no sandbox needed): what it finds comes from
the record alone, and every way of naming a run that is not there is a clear error, never a
traceback. tests/sandbox/test_rejudge.py records real runs."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from detonate.cli.main import main
from detonate.model.events import FileOpenedForWrite, ProcessExecuted
from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.image import ImageConfig
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, RunSummary
from detonate.model.runtime import (
    ChangeKind,
    ContentType,
    EndReason,
    FileChange,
    RunInfo,
    RunResult,
    RunStatus,
)
from detonate.report import json_report
from detonate.run_record import RECORD_NAME, RunRecord, load_run_record, write_run_record

IMAGE_PASSWD = b"root:x:0:0:root:/root:/bin/sh\noperator:x:0:0::/root:/sbin/nologin\n"
RUN_PASSWD = IMAGE_PASSWD + b"sysadm:x:0:0::/var/lib/.sysadm:/bin/sh\n"
STATIC = Finding(
    rule_id="config-root-user",
    title="Container runs as root",
    category=Category.WEAPONIZATION,
    technique="T1611",
    severity=Severity.INFO,
    confidence=Confidence.LOW,
    source="static:config",
    evidence=(Evidence(description="no USER in the image config"),),
)


def _record(run_dir: Path, image_files: dict[str, bytes]) -> Path:
    """A run that appended a uid-0 account to /etc/passwd, recorded in `run_dir`."""
    artifacts = run_dir / "artifacts"
    artifacts.mkdir(parents=True)
    digest = hashlib.sha256(RUN_PASSWD).hexdigest()
    (artifacts / digest).write_bytes(RUN_PASSWD)
    events = (
        ProcessExecuted(seq=0, ts=0.0, pid=10, path="/provision", argv=("/provision",)),
        FileOpenedForWrite(
            seq=1, ts=0.1, pid=10, path="/etc/passwd", flags="O_WRONLY|O_APPEND", append=True
        ),
    )
    change = FileChange(
        "/etc/passwd", ChangeKind.MODIFIED, ContentType.OTHER, len(RUN_PASSWD), 0o644, digest,
        artifact=digest,
    )  # fmt: skip
    info = RunInfo(RunStatus.COMPLETED, EndReason.EXITED, 1.0, len(events), exit_code=0)
    record = RunRecord(
        image=ImageInfo(reference="oci-archive:/images/provision.tar", digest="sha256:" + "a" * 64),
        config=ImageConfig(entrypoint=("/provision",)),
        static_findings=(STATIC,),
        static_iocs=Iocs(domains=("static.test",)),
        result=RunResult(events, (), (change,), info, artifacts),
        summary=RunSummary(status="exited", events=len(events), events_in_report=len(events)),
        image_files=image_files,
    )
    return write_run_record(record, run_dir / RECORD_NAME)


def _rejudge(tmp_path: Path, target: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    code = main(["rejudge", str(target), "--format", "json", "-o", str(out), *extra])
    document = json.loads(out.read_text()) if out.exists() else {}
    if document:
        json_report.validate(document)
    return code, document


def test_a_record_is_judged_from_what_it_holds(tmp_path: Path) -> None:
    _record(tmp_path / "artifacts" / "run-1", {"/etc/passwd": IMAGE_PASSWD})

    code, report = _rejudge(tmp_path, tmp_path / "artifacts")  # the --artifacts DIR, one run

    findings = {f["rule_id"]: f for f in report["findings"]}
    assert findings["config-root-user"]["source"] == "static:config"  # as recorded
    # The image's own uid-0 account (operator) is not new: the record kept the image's passwd.
    (added,) = findings["new-uid0-account"]["evidence"]
    assert added["description"].endswith(": sysadm"), added
    assert report["iocs"]["domains"] == ["static.test"]
    assert report["image"]["reference"] == "oci-archive:/images/provision.tar"
    assert report["verdict"] in ("suspicious", "malicious")
    assert code == (1 if report["verdict"] == "malicious" else 0)


def test_without_the_image_file_the_judgement_changes(tmp_path: Path) -> None:
    """The control for the test above: what decided it was the recorded image file."""
    _record(tmp_path / "run", {})
    _, report = _rejudge(tmp_path, tmp_path / "run")
    findings = {f["rule_id"]: f for f in report["findings"]}
    (added,) = findings["new-uid0-account"]["evidence"]
    assert added["description"].endswith(": operator, sysadm"), added


def test_a_suppression_applies_on_rejudge(tmp_path: Path) -> None:
    _record(tmp_path / "run", {"/etc/passwd": IMAGE_PASSWD})
    ignore = tmp_path / "ignore"
    ignore.write_text("new-uid0-account\n")
    _, report = _rejudge(tmp_path, tmp_path / "run", "--ignore-file", str(ignore))
    assert "new-uid0-account" not in {f["rule_id"] for f in report["findings"]}
    assert "new-uid0-account" in {f["rule_id"] for f in report["suppressed"]}


def test_the_record_keeps_text_exactly(tmp_path: Path) -> None:
    path = _record(tmp_path / "run", {"/etc/passwd": IMAGE_PASSWD, "/x\udce2.sh": b"#!/bin/sh\n"})
    assert load_run_record(path).image_files == {
        "/etc/passwd": IMAGE_PASSWD,
        "/x\udce2.sh": b"#!/bin/sh\n",
    }


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "Traceback" not in err
    return err


def test_naming_no_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert "does not exist" in _error(capsys, ["rejudge", str(tmp_path / "nowhere")])
    assert f"no {RECORD_NAME} in {tmp_path}" in _error(capsys, ["rejudge", str(tmp_path)])
    _record(tmp_path / "run-1", {})
    _record(tmp_path / "run-2", {})
    err = _error(capsys, ["rejudge", str(tmp_path)])
    assert "holds 2 recorded runs" in err and "run-1" in err, err


def test_a_record_that_is_not_one_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / RECORD_NAME
    path.write_bytes(b"not gzip at all")
    assert "is corrupt" in _error(capsys, ["rejudge", str(path)])
    path = _record(tmp_path / "run", {})
    document = json.loads(gzip.decompress(path.read_bytes()))
    document["events"][1]["kind"] = "file.teleport"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    err = _error(capsys, ["rejudge", str(path)])
    assert "is corrupt" in err and "file.teleport" in err, err
    document["events"][1]["kind"] = "file.write"
    document["files"][0]["artifact"] = "../../etc/shadow"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    assert "plain names" in _error(capsys, ["rejudge", str(path)])


def test_missing_dropped_file_copies_are_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = _record(tmp_path / "run", {})
    for copy in (path.parent / "artifacts").iterdir():
        copy.unlink()
    err = _error(capsys, ["rejudge", str(path.parent)])
    assert "copies of 1 dropped files are missing (first: /etc/passwd)" in err, err
