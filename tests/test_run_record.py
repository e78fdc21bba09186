"""What a run record keeps of the image: as much of each file as the real detectors read, the
text of the scripts the sample ran, within the caps."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from detonate import run_record
from detonate.detect import run_detectors
from detonate.detect.interface import PROGRAM_LIMIT, TEXT_LIMIT
from detonate.model.events import ProcessExecuted
from detonate.model.filesystem import FileType
from detonate.model.findings import Category, Confidence, Finding, Severity
from detonate.model.image import ImageConfig
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, RunSummary
from detonate.model.runtime import EndReason, RunInfo, RunResult, RunStatus
from detonate.run_record import ImageFiles, kept_image_files, run_view
from static.rootfs_builder import SampleFile, build_rootfs

PROGRAM = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 2048  # 512 KiB, binary
START = b"#!/bin/sh\n. /app/lib.sh\nexec /bin/tool serve\n"
LIB = b"serve_port=8080\n"
MAIN = b"print('hello')\n" * 30_000  # 450 KiB of script text: kept up to the cap
UNUSED = b"#!/bin/sh\necho never run\n"


def _view(tmp_path: Path) -> run_record.RunView:
    rootfs = build_rootfs(
        tmp_path / "rootfs",
        [
            SampleFile("/bin/tool", PROGRAM, 0o755),
            SampleFile("/start.sh", START, 0o755),
            SampleFile("/app/lib.sh", LIB),
            SampleFile("/app/main.py", MAIN),
            SampleFile("/opt/unused.sh", UNUSED, 0o755),
            SampleFile("/bin/sh", type=FileType.SYMLINK, link_target="/bin/tool"),
        ],
    )
    events = (
        ProcessExecuted(seq=0, ts=0.0, pid=10, path="/start.sh", argv=("/start.sh",)),
        ProcessExecuted(seq=1, ts=0.1, pid=10, path="/bin/tool", argv=("/bin/tool", "serve")),
        ProcessExecuted(
            seq=2, ts=0.2, pid=11, path="/usr/bin/python3", argv=("python3", "/app/main.py")
        ),
    )
    info = RunInfo(RunStatus.COMPLETED, EndReason.EXITED, 1.0, len(events))
    files = ImageFiles(rootfs)
    return run_view(RunResult(events, (), (), info), ImageConfig(), files, files.sizes())


def test_the_record_keeps_what_detectors_read_and_the_scripts_that_ran(tmp_path: Path) -> None:
    view = _view(tmp_path)
    run_detectors(view)  # the real detectors, reading through the view

    kept, omitted = kept_image_files(view)

    assert omitted == ()
    assert kept["/start.sh"] == START  # run by its #! line, read by the shell-text detector
    assert kept["/app/lib.sh"] == LIB  # sourced by it
    assert kept["/bin/tool"] == PROGRAM[:256]  # only its #! line was looked at
    assert kept["/app/main.py"] == MAIN[:TEXT_LIMIT]  # the script python3 was given
    assert "/opt/unused.sh" not in kept
    # the detectors' reads first (they decide a rejudge), then the scripts only run (the
    # embedded-stage detector reads an interpreter's script itself, so main.py may be either)
    read = [p for p in view.image_paths_read if p in kept]
    assert list(kept) == [*read, *(p for p in kept if p not in view.image_paths_read)]


def test_a_program_read_whole_is_read_past_the_text_limit_and_kept_whole(tmp_path: Path) -> None:
    """A detector that searches a program's file for an encoded stage asks for all of it; the
    record keeps as much, so a rejudge searches the same bytes."""
    view = _view(tmp_path)
    assert view.image_bytes("/bin/tool") == PROGRAM[:TEXT_LIMIT]  # the default
    assert view.image_bytes("/bin/tool", PROGRAM_LIMIT) == PROGRAM
    kept, _ = kept_image_files(view)
    assert kept["/bin/tool"] == PROGRAM
    again = run_view(RunResult(view.events, (), (), view.run), ImageConfig(), kept)
    assert again.image_bytes("/bin/tool", PROGRAM_LIMIT) == PROGRAM


def test_what_does_not_fit_the_total_cap_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = _view(tmp_path)
    run_detectors(view)
    monkeypatch.setattr(run_record, "IMAGE_FILES_CAP", 100_000)
    kept, omitted = kept_image_files(view)
    assert omitted == ("/app/main.py",)
    assert sum(len(data) for data in kept.values()) <= 100_000
    assert "/start.sh" in kept


def test_image_files_reads_regular_files_only(tmp_path: Path) -> None:
    files = _view(tmp_path).image_files
    assert files["/start.sh"] == START
    assert files.get("/bin/sh") is None  # a symlink: detectors never follow one in the image
    assert files.get("/app") is None and files.get("/nowhere") is None
    assert set(files) == {"/bin/tool", "/start.sh", "/app/lib.sh", "/app/main.py", "/opt/unused.sh"}


def test_the_streamed_file_is_the_record_document(tmp_path: Path) -> None:
    view = _view(tmp_path)
    assert view.run is not None
    result = RunResult(view.events, (), (), view.run, tmp_path / "artifacts")
    record = run_record.RunRecord(
        image=ImageInfo(reference="oci-archive:x"),
        config=ImageConfig(),
        static_findings=(),
        static_iocs=Iocs(),
        result=result,
        summary=RunSummary(),
        image_files={"/start.sh": START},
        image_sizes={"/app/main.py": len(MAIN)},
    )
    path = run_record.write_run_record(record, tmp_path / run_record.RECORD_NAME)
    written = json.loads(gzip.decompress(path.read_bytes()))
    assert written == json.loads(json.dumps(run_record.to_document(record)))
    loaded = run_record.load_run_record(path)
    assert [e.seq for e in loaded.result.events] == [0, 1, 2]
    assert loaded.view().image_size("/app/main.py") == len(MAIN)
    assert not list(tmp_path.glob(".*partial*"))
    # a path given as text (a script's argument) is the same record, not a "corrupt" one
    assert [e.seq for e in run_record.load_run_record(str(path)).result.events] == [0, 1, 2]


def test_image_sizes_come_from_the_index_and_the_record_keeps_those_asked_for(
    tmp_path: Path,
) -> None:
    view = _view(tmp_path)
    assert view.image_size("/app/main.py") == len(MAIN)  # 450 KiB: larger than what is read
    assert view.image_size("/bin/sh") is None  # a symlink
    assert view.image_size("/nowhere") is None
    assert view.image_sizes_read == {"/app/main.py": len(MAIN)}
    assert "/app/main.py" not in view.image_paths_read  # a size needs no read of the file


def test_a_recorded_static_finding_is_revived_with_the_current_attack_id(tmp_path: Path) -> None:
    """A record made while the rules reported v18 ids judges again with v19's (T1562.001 ->
    T1685), so a rejudged report names one ATT&CK release throughout."""
    view = _view(tmp_path)
    assert view.run is not None
    old = Finding(
        rule_id="config-security-tampering",
        title="Command disables security controls",
        category=Category.WEAPONIZATION,
        technique="T1562.001",
        severity=Severity.MEDIUM,
        confidence=Confidence.MEDIUM,
        source="static:config",
    )
    record = run_record.RunRecord(
        image=ImageInfo(reference="oci-archive:x"),
        config=ImageConfig(),
        static_findings=(old,),
        static_iocs=Iocs(),
        result=RunResult(view.events, (), (), view.run, tmp_path / "artifacts"),
        summary=RunSummary(),
    )
    path = run_record.write_run_record(record, tmp_path / run_record.RECORD_NAME)
    assert (
        json.loads(gzip.decompress(path.read_bytes()))["static"]["findings"][0]["technique"]
        == "T1562.001"
    )
    (revived,) = run_record.load_run_record(path).static_findings
    assert revived.technique == "T1685"
    assert revived.rule_id == old.rule_id
