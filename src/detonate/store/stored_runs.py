"""A scan's run record kept in the store, so the store's scans can be judged again later.

    run = capture(artifacts_root)          # after `pipeline.scan` with artifacts_dir set
    store.record_report(scan_id, report, run)
    ...
    with materialized(store.stored_run(scan_id)) as run_dir:
        report = pipeline.rejudge(run_dir, rules_dir)

What is kept: the run record exactly as the scan wrote it (gzip'd JSON, detonate.run_record)
and, by sha256, the first TEXT_LIMIT bytes of each dropped file the record names: the most of
a file any detector reads (`RunView.file_bytes`), so a rejudge from the store sees what one
from the run's artifacts directory sees. The trace, pcap and the rest of the dropped files
are not kept. Bounded: a record over RECORD_CAP, or copies over COPIES_CAP, are not kept, and
the store says why (that scan cannot be re-judged; its report stays).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from detonate.detect.interface import TEXT_LIMIT
from detonate.errors import RunRecordError
from detonate.model.options import MiB
from detonate.run_record import RECORD_NAME, VERSION, find_run_record, load_run_record
from detonate.store.records import StoredRun

RECORD_CAP = 8 * MiB  # gzip'd bytes of one stored record (typically a few KiB)
COPIES_CAP = 32 * MiB  # bytes of one run's dropped-file copies
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def capture(artifacts_root: Path) -> StoredRun:
    """What the store keeps of the one run recorded under `artifacts_root` (a scan's
    artifacts_dir); a StoredRun without data, with the reason, when it cannot be kept."""
    now = datetime.now(UTC)
    try:
        path = find_run_record(artifacts_root)
        size = path.stat().st_size
        if size > RECORD_CAP:
            return StoredRun.missing(
                f"the run record is {size} bytes, over the store's {RECORD_CAP}", now
            )
        record = load_run_record(path)  # refuses what a rejudge could not read
        data = path.read_bytes()
    except (RunRecordError, OSError) as error:
        message = error.message if isinstance(error, RunRecordError) else str(error)
        return StoredRun.missing(f"no run record: {message}", now)
    copies: dict[str, bytes] = {}
    total = 0
    directory = record.result.artifacts_dir
    if directory is not None and directory.name != "artifacts":
        return StoredRun.missing(f"unexpected artifacts directory {directory.name!r}", now)
    for change in record.result.files:
        name = change.artifact
        if not name or name in copies:
            continue
        if not SHA256.match(name) or directory is None:
            return StoredRun.missing(f"a dropped file's copy is not named by sha256: {name}", now)
        try:
            with open(directory / name, "rb") as handle:
                head = handle.read(TEXT_LIMIT)
        except OSError as error:
            return StoredRun.missing(f"a dropped file's copy is unreadable: {error}", now)
        total += len(head)
        if total > COPIES_CAP:
            return StoredRun.missing(
                f"the dropped files' copies are over the store's {COPIES_CAP} bytes", now
            )
        copies[name] = head
    recorded = _recorded_at(record.recorded_at) or now
    return StoredRun(data=data, copies=copies, version=VERSION, recorded_at=recorded)


def _recorded_at(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def materialized(run: StoredRun) -> Iterator[Path]:
    """A temporary run directory (record and dropped-file copies) that `pipeline.rejudge`
    reads like one a scan left; removed afterwards. RunRecordError when nothing was kept."""
    if run.data is None:
        raise RunRecordError(run.reason or "no run record was kept")
    with tempfile.TemporaryDirectory(prefix="detonate-rejudge-") as temporary:
        directory = Path(temporary)
        (directory / RECORD_NAME).write_bytes(run.data)
        artifacts = directory / "artifacts"
        artifacts.mkdir()
        for name, data in run.copies.items():
            if SHA256.match(name):  # names are the store's keys: never a path
                fd = os.open(artifacts / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
        yield directory
