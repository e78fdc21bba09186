"""Every event kind survives event_record → JSON → event_from_record unchanged: the run record
and the report's `events` are only as good as this round trip."""

from __future__ import annotations

import dataclasses
import inspect
import json
import types
import typing
from typing import Any

import pytest

from detonate.model import events as runtime_events
from detonate.model import netevents
from detonate.model.event_codec import (
    EVENT_KINDS,
    EventRecordError,
    event_from_record,
    event_record,
)
from detonate.model.events import Event, ProcessExecuted

ABSTRACT_KINDS = {"event", "net"}  # Event, NetEvent, NetworkEvent: bases, never emitted


def _concrete_event_classes() -> set[type[Event]]:
    found = set()
    for module in (runtime_events, netevents):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Event) and cls.kind not in ABSTRACT_KINDS:
                found.add(cls)
    return found


def _sample(kind: Any, name: str, n: int) -> Any:
    """A value of type `kind` unlike the field's default, different per field."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(k for k in typing.get_args(kind) if k is not type(None)), name, n)
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_sample(args[0], name, n + i) for i in range(2))
        return tuple(_sample(k, name, n + i) for i, k in enumerate(args))
    if kind is bool:
        return True
    if kind is int:
        return 1000 + n
    if kind is float:
        return 0.25 + n
    if kind is str:
        return f"{name}-{n}-\udce2"  # a lone surrogate: undecodable bytes of a sample's argv
    raise AssertionError(f"no sample value for {kind!r} ({name})")


def _full_event(cls: type[Event]) -> Event:
    hints = typing.get_type_hints(cls)
    values = {
        f.name: _sample(hints[f.name], f.name, n) for n, f in enumerate(dataclasses.fields(cls))
    }
    event = cls(**values)
    for name, value in values.items():
        assert getattr(event, name) == value
    return event


def test_every_event_class_has_a_kind_in_the_codec() -> None:
    assert set(EVENT_KINDS.values()) == _concrete_event_classes()
    assert all(cls.kind == kind for kind, cls in EVENT_KINDS.items())


@pytest.mark.parametrize("kind", sorted(EVENT_KINDS))
def test_every_field_of_every_kind_round_trips_through_json(kind: str) -> None:
    event = _full_event(EVENT_KINDS[kind])
    record = event_record(event)
    assert next(iter(record)) == "kind" and record["kind"] == kind
    # as the run record writes it: ASCII JSON, so lone surrogates come back too
    again = event_from_record(json.loads(json.dumps(record, ensure_ascii=True)))
    assert again == event
    assert type(again) is type(event)


def test_nested_pairs_are_lists_in_the_record_and_tuples_again_after() -> None:
    original = _full_event(netevents.HttpRequested)
    record = event_record(original)
    assert record["headers"] == [list(pair) for pair in original.headers]
    assert all(type(pair) is list for pair in record["headers"])
    event = event_from_record(json.loads(json.dumps(record)))
    assert isinstance(event, netevents.HttpRequested)
    assert all(isinstance(pair, tuple) for pair in event.headers)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"kind": "process.teleport", "seq": 0, "ts": 0, "pid": 1}, "unknown event kind"),
        ({"seq": 0, "ts": 0, "pid": 1}, "unknown event kind None"),
        (
            {"kind": "process.exec", "seq": 0, "ts": 0, "pid": 1, "path": "/x", "colour": "red"},
            "unknown fields ['colour']",
        ),
        ({"kind": "process.exec", "seq": 0, "ts": 0, "pid": 1}, "missing 1 required"),
    ],
)
def test_records_that_describe_no_event_are_refused(record: dict[str, Any], message: str) -> None:
    with pytest.raises(EventRecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        event_from_record(record)


def test_a_record_is_not_changed_by_decoding_it() -> None:
    record = event_record(ProcessExecuted(seq=1, ts=0.5, pid=7, path="/bin/sh", argv=("sh",)))
    copy = dict(record)
    event_from_record(record)
    assert record == copy
