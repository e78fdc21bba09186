"""Build real event records from plain data (YAML samples, a report's `events` list).

    events_from_data([{"kind": "process.exec", "path": "/tmp/x", "argv": ["/tmp/x"]}, …])

`kind` picks the class (process.exec, file.write, connected, http_requested …); `seq` defaults
to the position in the list, `ts` to seq / 10, `pid` to 100. Lists become tuples (pairs of
lists, like HTTP headers, become tuples of tuples). Unknown kinds or fields raise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from detonate.model.events import RUNTIME_EVENT_TYPES, Event
from detonate.model.netevents import NET_EVENT_KINDS

EVENT_KINDS: dict[str, type[Event]] = {
    **{cls.kind: cls for cls in RUNTIME_EVENT_TYPES},
    **NET_EVENT_KINDS,
}


def _tupled(value: object) -> object:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def event_from_data(data: Mapping[str, object], position: int) -> Event:
    fields = dict(data)
    kind = str(fields.pop("kind"))
    cls = EVENT_KINDS[kind]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"{kind}: unknown fields {sorted(unknown)}")
    fields.setdefault("seq", position)
    fields.setdefault("ts", position / 10)
    fields.setdefault("pid", 100)
    values: dict[str, Any] = {k: _tupled(v) for k, v in fields.items()}
    return cls(**values)


def events_from_data(items: Sequence[Mapping[str, object]]) -> tuple[Event, ...]:
    return tuple(event_from_data(item, n) for n, item in enumerate(items))
