"""The run record: a finished run kept as one file, so detection can judge it again later.

A scan that keeps artifacts (`--artifacts DIR`) writes `DIR/<run>/run-record.json.gz` after
detection, next to the copies of the files the run dropped (`DIR/<run>/artifacts/`):

    {"format": "detonate-run-record", "version": 1, "tool_version": …, "recorded_at": …,
     "ruleset_hash": …,                       the rules that judged the recorded scan
     "image": {…}, "config": {…},             ImageInfo, ImageConfig
     "static": {"findings": […], "iocs": {…}},
     "summary": {…}, "run": {…},              RunSummary, RunInfo
     "events": [{"kind": "process.exec", …}, …],   every event (detonate.model.event_codec)
     "processes": […], "files": […], "honeytokens": […], "host_mounts": […],
     "artifacts": "artifacts",                the dropped-file copies, beside the record
     "image_files": [{"path": "/etc/passwd", "base64": …}, …],
     "image_files_omitted": ["/opt/big.sh", …],
     "image_sizes": {"/srv/data/a.db": 4096, …}}

`image_files` are the image's own files that detection needs: as much of each as the
detectors read (`RunView.image_bytes`: the first 256 bytes of a program whose #! line they
looked at, the text of a script they analysed, the whole of a program whose file is searched
for a stage it decoded), then the text of every script the sample executed from the image (a
`#!` file it ran, or the script a shell or interpreter was given). Each is cut to
IMAGE_FILE_CAP bytes, all together to IMAGE_FILES_CAP; what does not fit is
named in `image_files_omitted`. `image_sizes` are the sizes of the image's files that
detectors asked for (`RunView.image_size`: which of the files the run wrote or deleted were
the image's own).
`pipeline.rejudge` reads a record and judges it with today's detectors: `RunView`s built by
`run_view` from a live run and from its record see the same things.

The version changes whenever a reader of the old format would misread the new one; a record
of a newer version is refused, not guessed at.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import io
import json
import os
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detonate.attack import current_id
from detonate.detect.correlations.pipelines import script_argument
from detonate.detect.correlations.run_index import is_interpreter_name, is_shell_name, program
from detonate.detect.interface import PROGRAM_LIMIT, TEXT_LIMIT, ImageFileHeads, RunView
from detonate.errors import RunRecordError
from detonate.model.event_codec import EventRecordError, event_from_record, event_record
from detonate.model.events import Event, ProcessExecuted
from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.findings import Finding
from detonate.model.image import ImageConfig
from detonate.model.iocs import Iocs
from detonate.model.options import MiB
from detonate.model.report import ImageInfo, RunSummary
from detonate.model.runtime import (
    FileChange,
    Honeytoken,
    HostMount,
    ProcessInfo,
    RunInfo,
    RunResult,
)
from detonate.report.json_report import plain, revive
from detonate.static.file_reading import read_head

FORMAT = "detonate-run-record"
VERSION = 1
RECORD_NAME = "run-record.json.gz"
IMAGE_FILE_CAP = PROGRAM_LIMIT  # bytes kept of one image file: the most any detector reads
IMAGE_FILES_CAP = 16 * MiB  # bytes kept of all image files of one run
MAX_RECORD_BYTES = 1024 * MiB  # a record that inflates past this is refused (a gzip bomb)
TEXT_SNIFF = 8192  # an image file with a NUL in its first bytes is no script
SEPARATORS = (",", ":")


@dataclass(frozen=True)
class RunRecord:
    image: ImageInfo
    config: ImageConfig
    static_findings: tuple[Finding, ...]
    static_iocs: Iocs
    result: RunResult  # its artifacts_dir: the dropped-file copies beside the record
    summary: RunSummary
    image_files: Mapping[str, bytes] = field(default_factory=dict)
    image_files_omitted: tuple[str, ...] = ()
    image_sizes: Mapping[str, int] = field(default_factory=dict)  # those detectors asked for
    ruleset_hash: str = ""
    tool_version: str = ""
    recorded_at: str = ""

    def view(self) -> RunView:
        return run_view(self.result, self.config, self.image_files, self.image_sizes)


def run_view(
    result: RunResult,
    config: ImageConfig,
    image_files: Mapping[str, bytes],
    image_sizes: Mapping[str, int] | None = None,
) -> RunView:
    """What the detectors see of a run: the same for a live run and for its record."""
    return RunView(
        events=result.events,
        processes=result.processes,
        files=result.files,
        honeytokens=result.honeytokens,
        host_mounts=result.host_mounts,
        config=config,
        run=result.run,
        image_files=image_files,
        image_sizes=image_sizes if image_sizes is not None else {},
        artifacts_dir=result.artifacts_dir,
    )


class ImageFiles(ImageFileHeads):
    """The image's regular files, path → their first TEXT_LIMIT bytes (`head`: more, up to
    IMAGE_FILE_CAP), read from the unpacked rootfs when first asked for (as bytes; image
    content is never run)."""

    def __init__(self, rootfs: Rootfs) -> None:
        self._rootfs = rootfs
        self._index: dict[str, FileEntry] | None = None
        self._read: dict[str, bytes] = {}

    def _entries(self) -> dict[str, FileEntry]:
        if self._index is None:
            self._index = {
                p: e for p, e in self._rootfs.by_path().items() if e.type is FileType.FILE
            }
        return self._index

    def __getitem__(self, path: str) -> bytes:
        data = self._read.get(path)
        if data is None:
            entry = self._entries()[path]  # KeyError: no regular file there
            data = self._read[path] = read_head(self._rootfs, entry, TEXT_LIMIT)
        return data

    def head(self, path: str, limit: int) -> bytes:
        data = self[path]
        limit = min(limit, IMAGE_FILE_CAP)
        if len(data) >= limit or len(data) < TEXT_LIMIT:  # read enough, or the whole file
            return data[:limit]
        data = self._read[path] = read_head(self._rootfs, self._entries()[path], limit)
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    def sizes(self) -> Mapping[str, int]:
        return _Sizes(self._entries)


class _Sizes(Mapping[str, int]):
    """The sizes of ImageFiles' entries, from the same index (no file is read)."""

    def __init__(self, entries: Callable[[], dict[str, FileEntry]]) -> None:
        self._entries = entries

    def __getitem__(self, path: str) -> int:
        return self._entries()[path].size

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())


def kept_image_files(view: RunView) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """The image files a record keeps, within IMAGE_FILES_CAP: as much of each as the
    detectors read, then the text of the scripts the sample executed; and the paths that did
    not fit."""
    wanted = dict(view.image_paths_read)
    changed = {change.path for change in view.files}
    for path in executed_paths(view.events):
        if path not in changed and _is_text(view.image_files.get(path)):
            wanted[path] = TEXT_LIMIT
    kept: dict[str, bytes] = {}
    omitted: list[str] = []
    total = 0
    for path, limit in wanted.items():
        data = view.image_files.get(path)
        if data is None:
            continue  # no regular file in the image: absent on a rejudge too
        data = data[: min(limit, IMAGE_FILE_CAP)]
        if total + len(data) > IMAGE_FILES_CAP:
            omitted.append(path)
            continue
        kept[path] = data
        total += len(data)
    return kept, tuple(omitted)


def executed_paths(events: tuple[Event, ...]) -> list[str]:
    """Absolute paths the sample ran: programs (a `#!` script among them) and the script file
    a shell or interpreter was given (`sh /entrypoint.sh`, `python3 /app/main.py`)."""
    paths: list[str] = []
    for event in events:
        if not isinstance(event, ProcessExecuted):
            continue
        if not (event.succeeded or event.error == "ENOEXEC"):  # ENOEXEC: the shell runs it
            continue
        paths += [event.path, event.exe_resolved]
        name = program(event.argv, event.path, event.applet)
        if is_shell_name(name) or is_interpreter_name(name):
            paths.append(script_argument(event.argv) or "")
    return [p for p in dict.fromkeys(paths) if p.startswith("/") and not p.startswith("/proc/")]


def _is_text(data: bytes | None) -> bool:
    return bool(data) and b"\0" not in (data or b"")[:TEXT_SNIFF]


# -- writing ---------------------------------------------------------------------------------


def record_path(result: RunResult) -> Path:
    """Where a run's record goes: beside its artifacts directory, in the run's own directory."""
    if result.artifacts_dir is None:
        raise RunRecordError("this run kept no artifacts directory to record it in")
    return result.artifacts_dir.parent / RECORD_NAME


def to_document(record: RunRecord) -> dict[str, Any]:
    """The record as plain JSON data (`write_run_record` streams the events instead)."""
    document = _head(record)
    document["events"] = [event_record(e) for e in record.result.events]
    return document


def _head(record: RunRecord) -> dict[str, Any]:
    result = record.result
    artifacts = result.artifacts_dir.name if result.artifacts_dir is not None else ""
    return {
        "format": FORMAT,
        "version": VERSION,
        "tool_version": record.tool_version,
        "recorded_at": record.recorded_at,
        "ruleset_hash": record.ruleset_hash,
        "image": _plain(record.image),
        "config": _plain(record.config),
        "static": {
            "findings": _plain(record.static_findings),
            "iocs": _plain(record.static_iocs),
        },
        "summary": _plain(record.summary),
        "run": _plain(result.run),
        "processes": _plain(result.processes),
        "files": _plain(result.files),
        "honeytokens": _plain(result.honeytokens),
        "host_mounts": _plain(result.host_mounts),
        "artifacts": artifacts,
        "image_files": [
            {"path": path, "base64": base64.b64encode(data).decode("ascii")}
            for path, data in record.image_files.items()
        ],
        "image_files_omitted": list(record.image_files_omitted),
        "image_sizes": dict(record.image_sizes),
    }


def _plain(value: Any) -> Any:
    return plain(value, escape=False)  # ensure_ascii JSON keeps every string exactly


def write_run_record(record: RunRecord, path: Path) -> Path:
    """Write `record` to `path` as gzip'd JSON, replaced in one step; RunRecordError when the
    disk refuses. The events are streamed one by one: a trace-size bomb's run has millions,
    and the analyser must not hold their JSON text at once."""
    head = json.dumps(_head(record), sort_keys=True, separators=SEPARATORS)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with (
            gzip.GzipFile(partial, "wb", compresslevel=6, mtime=0) as raw,
            io.TextIOWrapper(raw, encoding="ascii") as out,
        ):
            out.write(head[:-1] + ',"events":[')
            for number, event in enumerate(record.result.events):
                out.write("," if number else "")
                out.write(json.dumps(event_record(event), separators=SEPARATORS))
            out.write("]}")
        partial.replace(path)
    except OSError as exc:
        raise RunRecordError(
            f"could not write the run record {path}: {exc.strerror or exc}",
            "free space in the artifacts directory, or scan without --artifacts",
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return path


# -- reading ---------------------------------------------------------------------------------


def find_run_record(path: Path) -> Path:
    """The record `path` names: the record file itself, a run's directory, or an artifacts
    directory that holds exactly one run."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise RunRecordError(
            f"{path} does not exist",
            "name a run directory inside the --artifacts DIR of a scan, or its run-record.json.gz",
        )
    if (path / RECORD_NAME).is_file():
        return path / RECORD_NAME
    found = sorted(p / RECORD_NAME for p in path.iterdir() if (p / RECORD_NAME).is_file())
    if len(found) == 1:
        return found[0]
    if found:
        runs = ", ".join(str(p.parent) for p in found[:5])
        raise RunRecordError(
            f"{path} holds {len(found)} recorded runs", f"name one of them: {runs}"
        )
    raise RunRecordError(
        f"no {RECORD_NAME} in {path}",
        "a run is recorded by `detonate image REF --artifacts DIR`; static-only scans, and "
        "scans without --artifacts, keep no record",
    )


def load_run_record(path: Path | str) -> RunRecord:
    """The record at `path`; RunRecordError when it is missing, corrupt or of a newer format."""
    path = Path(path)  # a str path once read as "corrupt" (no .parent for the artifacts)
    document = _read_document(path)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RunRecordError(f"{path} is not a detonate run record")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunRecordError(f"{path} is corrupt: no format version")
    if version > VERSION:
        raise RunRecordError(
            f"{path} is a run record of format version {version}, newer than this detonate "
            f"reads ({VERSION})",
            f"rejudge it with detonate {document.get('tool_version') or 'of that version'} "
            "or later",
        )
    try:
        return _record(document, path.parent)
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise RunRecordError(
            f"{path} is corrupt: {type(exc).__name__}: {exc}",
            "re-run the scan with --artifacts to record the run again",
        ) from None


def _read_document(path: Path) -> Any:
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        raise RunRecordError(f"{path} does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise RunRecordError(
            f"{path} is corrupt: {exc}",
            "re-run the scan with --artifacts to record the run again",
        ) from None
    if len(data) > MAX_RECORD_BYTES:
        raise RunRecordError(f"{path} inflates to more than {MAX_RECORD_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunRecordError(
            f"{path} is corrupt: not JSON ({exc})",
            "re-run the scan with --artifacts to record the run again",
        ) from None


def _record(document: dict[str, Any], directory: Path) -> RunRecord:
    artifacts = document["artifacts"]
    files = tuple(revive(FileChange, f) for f in document["files"])
    if not _plain_name(artifacts) or not all(_plain_name(f.artifact) for f in files if f.artifact):
        raise ValueError("file names must be plain names inside the run directory")
    try:
        events = tuple(event_from_record(e) for e in document["events"])
    except EventRecordError as exc:
        raise ValueError(f"event: {exc}") from None
    static = document["static"]
    result = RunResult(
        events=events,
        processes=tuple(revive(ProcessInfo, p) for p in document["processes"]),
        files=files,
        run=revive(RunInfo, document["run"]),
        artifacts_dir=directory / artifacts,
        honeytokens=tuple(revive(Honeytoken, h) for h in document["honeytokens"]),
        host_mounts=tuple(revive(HostMount, m) for m in document["host_mounts"]),
    )
    return RunRecord(
        image=revive(ImageInfo, document["image"]),
        config=revive(ImageConfig, document["config"]),
        static_findings=tuple(_revive_finding(f) for f in static["findings"]),
        static_iocs=revive(Iocs, static["iocs"]),
        result=result,
        summary=revive(RunSummary, document["summary"]),
        image_files={
            str(item["path"]): base64.b64decode(item["base64"], validate=True)
            for item in document["image_files"]
        },
        image_files_omitted=tuple(document["image_files_omitted"]),
        image_sizes={str(p): int(n) for p, n in document.get("image_sizes", {}).items()},
        ruleset_hash=str(document["ruleset_hash"]),
        tool_version=str(document["tool_version"]),
        recorded_at=str(document["recorded_at"]),
    )


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name


def missing_artifacts(record: RunRecord) -> list[str]:
    """Paths whose dropped-file copy the record names but the run directory no longer has."""
    directory = record.result.artifacts_dir
    return [
        change.path
        for change in record.result.files
        if change.artifact and (directory is None or not (directory / change.artifact).is_file())
    ]


def _revive_finding(document: Any) -> Finding:
    """A recorded static finding, its technique in the current ATT&CK release's id (a record
    made before the catalogue changed carries the id of its day)."""
    finding: Finding = revive(Finding, document)
    return dataclasses.replace(finding, technique=current_id(finding.technique))
