"""The JSON report: the `Report` record as a stable, schema-validated document."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from detonate.model.report import Report


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return safe_text(str(value))
    if isinstance(value, str):
        return safe_text(value)
    return value


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
    document: dict[str, Any] = _plain(report)
    return document


def dumps(report: Report) -> str:
    return json.dumps(to_document(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@cache
def schema() -> dict[str, Any]:
    text = resources.files("detonate.report").joinpath("schema/report-v1.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(document: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `document` breaks the v1 schema."""
    jsonschema.Draft202012Validator(schema()).validate(document)
