"""An OpenAPI-driven fuzz: every operation /openapi.json describes, called with hostile values
for each parameter and body field (wrong types, huge and odd strings, control characters,
unicode, nulls, numbers out of range), over real HTTPS. No answer may be a 5xx, every error
must be the JSON error shape, and a bad request stores nothing it should not."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from detonate.acquire.reference import parse_reference
from detonate.errors import UsageError

from .live import LiveService, live_service

HOSTILE: list[Any] = [
    None,
    "",
    " ",
    "a" * 5000,
    "../../../../etc/passwd",
    "sha256:" + "f" * 64,
    "sha256:" + "F" * 64,
    "registry.test/app:1",  # a remote name: filtered out of bodies below
    "' OR 1=1 --",
    "%00%ff",
    "\u0000\u202e\U0001f4a3",
    "docker://127.0.0.1:9/x:1",
    "oci:/etc",
    "-1",
    "1e309",
    "NaN",
    0,
    -1,
    2**63,
    -(2**63) - 1,
    1.5,
    True,
    [],
    {},
    [None],
    {"$ref": "#"},
]


def stays_local(value: Any) -> bool:
    """False for a reference the service would look up on a registry off this machine
    ("sha256:fff…" is a valid name:tag on Docker Hub): the fuzz must not reach the internet."""
    if not isinstance(value, str):
        return True
    try:
        ref = parse_reference(value)
    except UsageError:
        return True
    return ref.transport != "docker" or ref.repository.startswith("127.0.0.1:")


LOCAL_HOSTILE = [value for value in HOSTILE if stays_local(value)]
PATH_VALUES = ["x", "0" * 36, "sha256:" + "0" * 64, "%2e%2e", "a" * 300, "%00", "null"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tls) -> Iterator[LiveService]:
    with live_service(tmp_path_factory.mktemp("fuzz"), tls, resolve_timeout_seconds=5) as on:
        yield on


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in sorted(spec["paths"].items()):
        for method, operation in sorted(methods.items()):
            yield path, method.upper(), operation


def body_fields(operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return sorted(schema.get("properties", {}))


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def test_no_operation_answers_a_5xx_to_hostile_input(live: LiveService) -> None:
    client = live.client()
    spec = client.get("/openapi.json").json()
    rng = random.Random(11)  # fixed: a failure is reproducible
    calls = 0
    for path, method, operation in operations(spec):
        params = [p for p in operation.get("parameters", []) if p["in"] in ("query", "path")]
        fields = body_fields(operation)
        for _ in range(40):
            url = path
            query: dict[str, str] = {}
            for param in params:
                if param["in"] == "path":
                    url = url.replace("{" + param["name"] + "}", rng.choice(PATH_VALUES))
                elif rng.random() < 0.7:
                    query[param["name"]] = as_text(rng.choice(HOSTILE))
            kwargs: dict[str, Any] = {"params": query}
            if method in ("POST", "PUT", "PATCH"):
                if rng.random() < 0.2:
                    kwargs["content"] = rng.choice([b"{", b"\xff\xfe", b"[]" * 10, b"null"])
                    kwargs["headers"] = {"content-type": "application/json"}
                else:
                    body = {f: rng.choice(LOCAL_HOSTILE) for f in fields if rng.random() < 0.8}
                    if rng.random() < 0.3:
                        body["unexpected"] = rng.choice(HOSTILE)
                    kwargs["json"] = body
            answer = client.request(method, url, **kwargs)
            calls += 1
            assert answer.status_code < 500, (method, url, kwargs, answer.text)
            if answer.status_code >= 400:
                error = answer.json()["error"]
                assert error["code"] and error["message"], answer.text
    assert calls >= 40 * 6
    # Hostile references never reach a registry that has them: nothing was queued.
    assert live.store.list_scans() == []
