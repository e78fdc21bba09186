"""Bad input of every kind gets a clear 4xx JSON error — `{"error": {"code", "message"}}` —
and leaves nothing in the store. One running service (HTTPS, SQLite) for the whole module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .live import LiveService, live_service

A_DIGEST = "sha256:" + "0" * 64
SCANS = "/api/v1/scans"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tls) -> Iterator[LiveService]:
    with live_service(tmp_path_factory.mktemp("bad-input"), tls, resolve_timeout_seconds=10) as on:
        yield on


@pytest.fixture(scope="module")
def unknown_image(registry) -> str:
    return registry.reference("team/never-pushed:1")


def huge_chunks() -> Iterator[bytes]:
    chunk = b" " * 65536
    for _ in range(40):  # 2.5 MiB, no Content-Length: the limit holds while reading
        yield chunk


CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (name, method, path, request kwargs, status, error code)
    (
        "malformed json",
        "POST",
        SCANS,
        {"content": b'{"reference": ', "headers": JSON},
        400,
        "malformed_json",
    ),
    (
        "not utf-8",
        "POST",
        SCANS,
        {"content": b'{"reference": "\xff"}', "headers": JSON},
        400,
        "malformed_json",
    ),
    ("empty body", "POST", SCANS, {"content": b"", "headers": JSON}, 400, "empty_body"),
    (
        "text body",
        "POST",
        SCANS,
        {"content": b"reference=x", "headers": {"content-type": "text/plain"}},
        415,
        "unsupported_media_type",
    ),
    ("form body", "POST", SCANS, {"data": {"reference": "alpine"}}, 415, "unsupported_media_type"),
    (
        "no content type",
        "POST",
        SCANS,
        {"content": b'{"reference": "alpine"}'},
        415,
        "unsupported_media_type",
    ),
    (
        "huge body",
        "POST",
        SCANS,
        {"content": b"[" + b"1," * 600_000 + b"1]", "headers": JSON},
        413,
        "body_too_large",
    ),
    (
        "huge chunked body",
        "POST",
        SCANS,
        {"content": huge_chunks(), "headers": JSON},
        413,
        "body_too_large",
    ),
    ("array", "POST", SCANS, {"json": ["alpine"]}, 422, "invalid_request"),
    ("no reference", "POST", SCANS, {"json": {"platform": "linux/amd64"}}, 422, "invalid_request"),
    ("number reference", "POST", SCANS, {"json": {"reference": 7}}, 422, "invalid_request"),
    ("empty reference", "POST", SCANS, {"json": {"reference": ""}}, 422, "invalid_request"),
    ("long reference", "POST", SCANS, {"json": {"reference": "a" * 2000}}, 422, "invalid_request"),
    (
        "unknown field",
        "POST",
        SCANS,
        {"json": {"reference": "alpine", "command": "sh"}},
        422,
        "invalid_request",
    ),
    (
        "unknown profile",
        "POST",
        SCANS,
        {"json": {"reference": "alpine", "profile": "yolo"}},
        422,
        "invalid_request",
    ),
    (
        "priority too high",
        "POST",
        SCANS,
        {"json": {"reference": "alpine", "priority": 10**9}},
        422,
        "invalid_request",
    ),
    (
        "bad reference",
        "POST",
        SCANS,
        {"json": {"reference": "docker://UPPER/Case:1"}},
        400,
        "bad_reference",
    ),
    (
        "bad digest",
        "POST",
        SCANS,
        {"json": {"reference": "alpine@sha256:123"}},
        400,
        "bad_reference",
    ),
    (
        "local file",
        "POST",
        SCANS,
        {"json": {"reference": "oci-archive:/etc/passwd"}},
        400,
        "local_reference_refused",
    ),
    (
        "docker daemon",
        "POST",
        SCANS,
        {"json": {"reference": "docker-daemon:alpine:3"}},
        400,
        "local_reference_refused",
    ),
    (
        "bad platform",
        "POST",
        SCANS,
        {"json": {"reference": "alpine", "platform": "a/b/c/d"}},
        422,
        "bad_platform",
    ),
    (
        "unreachable registry",
        "POST",
        SCANS,
        {"json": {"reference": "docker://127.0.0.1:9/x:1"}},
        502,
        "registry_unreachable",
    ),
    (
        "unknown scan",
        "GET",
        f"{SCANS}/4a4e7c6e-0000-4000-8000-000000000000",
        {},
        404,
        "scan_not_found",
    ),
    ("very long scan id", "GET", f"{SCANS}/{'x' * 3000}", {}, 404, "scan_not_found"),
    ("report of unknown scan", "GET", f"{SCANS}/nope/report", {}, 404, "scan_not_found"),
    ("unknown report format", "GET", f"{SCANS}/nope/report?format=pdf", {}, 422, "invalid_request"),
    ("cancel unknown scan", "DELETE", f"{SCANS}/nope", {}, 404, "scan_not_found"),
    ("bad digest path", "GET", "/api/v1/images/latest/verdict", {}, 422, "invalid_request"),
    ("no verdict", "GET", f"/api/v1/images/{A_DIGEST}/verdict", {}, 404, "no_verdict"),
    ("limit zero", "GET", f"{SCANS}?limit=0", {}, 422, "invalid_request"),
    ("limit huge", "GET", f"{SCANS}?limit=100000", {}, 422, "invalid_request"),
    ("bad since", "GET", f"{SCANS}?since=yesterday", {}, 422, "invalid_request"),
    ("bad status", "GET", f"{SCANS}?status=exploded", {}, 422, "invalid_request"),
    ("bad verdict", "GET", f"{SCANS}?verdict=evil", {}, 422, "invalid_request"),
    ("wrong method", "PUT", SCANS, {"json": {"reference": "alpine"}}, 405, "method_not_allowed"),
    ("unknown path", "GET", "/api/v2/scans", {}, 404, "not_found"),
]


@pytest.mark.registry
@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_request_is_a_clear_json_error_and_stores_nothing(
    live: LiveService, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    answer = live.client().request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    assert_nothing_stored(live)


@pytest.mark.registry
def test_an_image_the_registry_does_not_have_is_refused(live: LiveService, unknown_image) -> None:
    answer = live.client().post(SCANS, json={"reference": unknown_image})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "image_not_found"
    assert_nothing_stored(live)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer dtn_not-a-real-token"}, "bad_token"),
        ({"Authorization": "Bearer"}, "bad_token"),
        ({"Authorization": "Basic dGVzdDp0ZXN0"}, "bad_token"),
        ({"Authorization": "Bearer " + "x" * 5000}, "bad_token"),
    ],
    ids=["missing", "unknown", "empty", "basic", "oversized"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", SCANS), ("GET", SCANS), ("GET", f"/api/v1/images/{A_DIGEST}/verdict")],
)
def test_without_a_valid_token_the_api_answers_401(
    live: LiveService, headers: dict[str, str], code: str, method: str, path: str
) -> None:
    client = httpx.Client(base_url=live.base_url, verify=live.tls.client_context())
    with client:
        answer = client.request(method, path, headers=headers, json={"reference": "alpine"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["error"]["code"] == code
    assert_nothing_stored(live)


def assert_nothing_stored(live: LiveService) -> None:
    store = live.store
    assert store.list_scans() == []
    assert store.counts() == {}
    assert store.tag_history("127.0.0.1") == []
