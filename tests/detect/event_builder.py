"""Build real event records from plain data (YAML samples, a report's `events` list).

    events_from_data([{"kind": "process.exec", "path": "/tmp/x", "argv": ["/tmp/x"]}, …])

`kind` picks the class (process.exec, file.write, connected, http_requested …); `seq` defaults
to the position in the list, `ts` to seq / 10, `pid` to 100. Lists become tuples (pairs of
lists, like HTTP headers, become tuples of tuples). Unknown kinds or fields raise: the
conversion is the run record's (detonate.model.event_codec).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from detonate.model.event_codec import event_from_record
from detonate.model.events import Event


def event_from_data(data: Mapping[str, object], position: int) -> Event:
    fields = dict(data)
    fields.setdefault("seq", position)
    fields.setdefault("ts", position / 10)
    fields.setdefault("pid", 100)
    return event_from_record(fields)


def events_from_data(items: Sequence[Mapping[str, object]]) -> tuple[Event, ...]:
    return tuple(event_from_data(item, n) for n, item in enumerate(items))
