"""The JSON report: the `Report` record as a stable, schema-validated document."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from detonate.model.report import Report


def plain(value: Any, *, escape: bool = True) -> Any:
    """`value` (records, enums, tuples, paths) as plain JSON data. `escape=False` keeps text
    exactly, lone surrogates included, for JSON written with `ensure_ascii` (the run record),
    where `revive` must give back what was recorded."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return safe_text(value) if escape else value
    names = _field_names(type(value))
    if names is not None:
        return {name: plain(getattr(value, name), escape=escape) for name in names}
    if isinstance(value, dict):
        return {str(k): plain(v, escape=escape) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, escape=escape) for v in value]
    return value


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}  # one entry per type of the model


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The fields of a dataclass type, None for any other type: looked up once per type (a
    report has thousands of records, and the fuzzers render one per input)."""
    if cls not in _FIELD_NAMES:
        dataclass = dataclasses.is_dataclass(cls)
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls)) if dataclass else None
    return _FIELD_NAMES[cls]


def safe_text(text: str) -> str:
    """Text a sample controls (argv, paths, payload previews) may hold lone surrogates from
    undecodable bytes; they become visible escapes ("\\udce2") instead of breaking the
    encoder of every report format."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def to_document(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = plain(report)
    return document


def dumps(report: Report) -> str:
    return dumps_document(to_document(report))


def dumps_document(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def from_document(document: dict[str, Any]) -> Report:
    """The `Report` a document was made from (the store keeps documents; the renderers read
    records). `from_document(to_document(r))` renders exactly as `r` does."""
    revived: Report = revive(Report, document)
    return revived


def revive(kind: Any, value: Any) -> Any:
    """`value` (plain JSON) as an instance of the annotated type `kind`."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        return revive(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(revive(args[0], v) for v in value)
        return tuple(revive(k, v) for k, v in zip(args, value, strict=False))
    if origin is dict or kind is Any or origin is list:
        return value
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = _hints(kind)
        fields = {f.name for f in dataclasses.fields(kind) if f.init}
        return kind(**{k: revive(hints[k], v) for k, v in value.items() if k in fields})
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if kind is Path:
        return Path(value)
    if kind is float and isinstance(value, int):
        return float(value)
    return value


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


@cache
def schema() -> dict[str, Any]:
    text = resources.files("detonate.report").joinpath("schema/report-v1.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(document: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `document` breaks the v1 schema."""
    jsonschema.Draft202012Validator(schema()).validate(document)
