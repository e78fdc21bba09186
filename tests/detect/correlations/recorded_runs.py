"""Event streams captured from real sandbox runs of samples/scenarios (and of samples/wild, w*:
from their run records), as test fixtures.

Each runs/<scenario>.json.gz holds what the sandbox handed on for one run: events (as the
report renders them, with `kind`), the process table, the filesystem diff, the planted
honeytokens and the run summary. Re-capture after a tracer change with a sandbox run of the
scenario and `dump_run` below.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

from detonate.detect.interface import RunView
from detonate.model.event_codec import event_from_record, event_record
from detonate.model.runtime import (
    EndReason,
    FileChange,
    Honeytoken,
    ProcessInfo,
    RunInfo,
    RunResult,
    RunStatus,
)

RUNS = Path(__file__).parent / "runs"


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def _record(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _frozen(v) for k, v in data.items() if k in names})


def load_run(name: str) -> RunView:
    doc = json.loads(gzip.decompress((RUNS / f"{name}.json.gz").read_bytes()))
    events = [event_from_record(item) for item in doc["events"]]
    run = doc.get("run") or {}
    info = RunInfo(
        status=RunStatus(run.get("status", "completed")),
        ended_by=EndReason(run.get("ended_by", "exited")),
        duration_seconds=run.get("duration_seconds", 0.0),
        events=len(events),
        cpu_seconds=run.get("cpu_seconds", 0.0),
        hostname=run.get("hostname", ""),
        addresses=tuple(run.get("addresses", ())),
    )
    return RunView(
        events=tuple(events),
        processes=tuple(_record(ProcessInfo, p) for p in doc["processes"]),
        files=tuple(_record(FileChange, f) for f in doc["files"]),
        honeytokens=tuple(_record(Honeytoken, h) for h in doc.get("honeytokens", ())),
        run=info,
    )


def dump_run(result: RunResult, path: Path) -> None:
    """Write a sandbox RunResult in the fixture format (used to capture new fixtures)."""
    doc = {
        "events": [event_record(e) for e in result.events],
        "processes": [dataclasses.asdict(p) for p in result.processes],
        "files": [dataclasses.asdict(f) for f in result.files],
        "honeytokens": [dataclasses.asdict(h) for h in result.honeytokens],
        "run": json.loads(json.dumps(dataclasses.asdict(result.run), default=str)),
    }
    path.write_bytes(gzip.compress(json.dumps(doc, default=str).encode(), mtime=0))
