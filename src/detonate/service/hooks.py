"""POST /hooks/{distribution,harbor,ghcr,dockerhub}: registry push notifications → queued scans.

The answer comes as soon as the body is checked and the images with known digests are
requested (a store write each); lookups the payload makes necessary run afterwards. Status codes
say what a sender needs to know: 202 accepted (with what was queued and what was ignored),
401 wrong secret, 404 hook not configured, 413 body too large, 415 not JSON, 400 malformed JSON,
422 JSON that is not this sender's payload, 503 too many lookups waiting (retry).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from detonate.errors import BadPayload
from detonate.service.hook_auth import authorized
from detonate.service.intake import Overloaded, PushIntake
from detonate.service.registry_events import PARSERS, Notification

MAX_HOOK_BODY_BYTES = 1024 * 1024
GITHUB_EVENTS = ("package", "registry_package")


class BodyTooLarge(Exception):
    pass


def hooks_router(
    secrets: Mapping[str, str],
    intake: PushIntake,
    *,
    max_body_bytes: int = MAX_HOOK_BODY_BYTES,
    count: Callable[[str, str], None] = lambda sender, outcome: None,
) -> APIRouter:
    """`secrets` maps a sender to its shared secret; a sender without one is switched off.
    `count(sender, outcome)` feeds the webhook metrics."""
    router = APIRouter(tags=["registry webhooks"])

    @router.post("/hooks/{sender}", status_code=202)
    async def registry_hook(sender: str, request: Request) -> JSONResponse:
        if sender not in PARSERS or not secrets.get(sender):
            count(sender if sender in PARSERS else "unknown", "not-configured")
            return error(404, f"no {sender} hook is configured here", _hint(sender))
        try:
            body = await read_limited(request, max_body_bytes)
        except BodyTooLarge:
            count(sender, "too-large")
            return error(413, f"the body is larger than {max_body_bytes} bytes")
        if not authorized(sender, secrets[sender], request.headers, request.query_params, body):
            count(sender, "unauthorized")
            return error(401, "the shared secret is missing or wrong", _hint(sender))
        if not _is_json(request.headers.get("content-type", "")):
            count(sender, "bad-content-type")
            return error(415, "the body must be JSON", "send Content-Type: application/json")
        if (
            sender == "ghcr"
            and (event := request.headers.get("x-github-event", "")) not in GITHUB_EVENTS
        ):
            count(sender, "ignored")
            return JSONResponse(
                {"accepted": [], "ignored": [{"what": event, "reason": "not a package event"}]}, 202
            )
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            count(sender, "malformed")
            return error(400, f"the body is not JSON: {exc}")
        try:
            notification: Notification = PARSERS[sender](document)
        except BadPayload as exc:
            count(sender, "malformed")
            return error(422, exc.message, exc.hint)
        try:
            accepted = await run_in_threadpool(
                lambda: [intake.accept(i) for i in notification.pushed]
            )
        except Overloaded as exc:
            count(sender, "overloaded")
            response = error(503, exc.message, exc.hint)
            response.headers["Retry-After"] = "30"
            return response
        count(sender, "accepted" if accepted else "ignored")
        return JSONResponse(
            {
                "accepted": [item.to_json() for item in accepted],
                "ignored": [{"what": i.what, "reason": i.reason} for i in notification.ignored],
            },
            status_code=202,
        )

    return router


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it passes `limit` (a declared length is checked first,
    so a huge upload is refused before it is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def error(status: int, message: str, hint: str = "") -> JSONResponse:
    detail: dict[str, Any] = {"message": message}
    if hint:
        detail["hint"] = hint
    return JSONResponse({"error": detail}, status_code=status)


def _is_json(content_type: str) -> bool:
    # application/json; charset=utf-8 · application/vnd.docker.distribution.events.v1+json
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _hint(sender: str) -> str:
    return {
        "distribution": "configure notifications.endpoints[].headers: "
        "{Authorization: [Bearer SECRET]} and start detonate serve with --hook-secret",
        "harbor": "set the webhook's Auth Header to the secret",
        "ghcr": "set the GitHub webhook's secret (it signs X-Hub-Signature-256)",
        "dockerhub": "add ?secret=SECRET to the webhook URL in Docker Hub",
    }.get(sender, "hooks: distribution, harbor, ghcr, dockerhub")
