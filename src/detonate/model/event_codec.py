"""Events as plain JSON data and back: the report's `events`, the run record, test fixtures.

    event_record(ProcessExecuted(seq=3, ts=0.2, pid=7, path="/bin/sh", argv=("sh", "-c", "id")))
      → {"kind": "process.exec", "seq": 3, "ts": 0.2, "pid": 7, "path": "/bin/sh",
         "argv": ["sh", "-c", "id"], …every other field…}
    event_from_record(that) == the event

`kind` names the class (EVENT_KINDS); tuples become lists (HTTP headers, pairs, become lists of
lists) and come back as tuples. Text is kept as it is: a record written with `ensure_ascii`
JSON gives back even the lone surrogates of undecodable argv bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from detonate.model.events import RUNTIME_EVENT_TYPES, Event
from detonate.model.netevents import NET_EVENT_KINDS

EVENT_KINDS: dict[str, type[Event]] = {
    **{cls.kind: cls for cls in RUNTIME_EVENT_TYPES},
    **NET_EVENT_KINDS,
}


class EventRecordError(ValueError):
    """A record that names no known event kind, a field the kind lacks, or misses one it needs."""


def event_record(event: Event) -> dict[str, Any]:
    """An event as a JSON-ready mapping with its `kind` first."""
    record: dict[str, Any] = {"kind": event.kind}
    for field in dataclasses.fields(event):
        record[field.name] = _listed(getattr(event, field.name))
    return record


def event_from_record(record: Mapping[str, Any]) -> Event:
    """The event `record` describes; EventRecordError when it describes none."""
    fields = dict(record)
    kind = fields.pop("kind", None)
    cls = EVENT_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventRecordError(f"unknown event kind {kind!r}")
    unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise EventRecordError(f"{kind}: unknown fields {sorted(unknown)}")
    try:
        return cls(**{name: _tupled(value) for name, value in fields.items()})
    except TypeError as exc:  # a required field is missing
        raise EventRecordError(f"{kind}: {exc}") from None


def _listed(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_listed(v) for v in value]
    return value


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value
