"""POST /hooks/{distribution,harbor,ghcr,dockerhub}: registry push notifications → queued scans.

The answer comes as soon as the body is checked and the images with known digests are
requested (a store write each); lookups the payload makes necessary run afterwards. Status codes
say what a sender needs to know: 202 accepted (with what was queued and what was ignored),
401 wrong secret, 404 hook not configured, 413 body too large, 415 not JSON, 400 malformed JSON,
422 JSON that is not this sender's payload, 503 too many lookups waiting (retry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from detonate.errors import BadPayload, DetonateError
from detonate.model.image import Platform
from detonate.service.errors import error_body
from detonate.service.hook_auth import authorized
from detonate.service.intake import Overloaded, PushIntake
from detonate.service.metrics import WEBHOOK_EVENTS
from detonate.service.registry_events import PARSERS, Notification
from detonate.service.settings import Settings
from detonate.service.state import shared

MAX_HOOK_BODY_BYTES = 1024 * 1024
GITHUB_EVENTS = ("package", "registry_package")


class BodyTooLarge(Exception):
    pass


router = APIRouter(tags=["registry webhooks"])


def push_intake(app: FastAPI) -> PushIntake:
    settings: Settings = app.state.settings
    intake = PushIntake(
        app.state.store,
        app.state.queue,
        app.state.resolver,
        Platform.parse(settings.platform),
        profile=settings.profile,
    )
    app.router.on_shutdown.append(intake.close)  # lookups in flight finish; waiting ones drop
    return intake


@router.post("/hooks/{sender}", status_code=202)
async def registry_hook(sender: str, request: Request) -> JSONResponse:
    """A registry's push notification. Authenticated by the sender's shared secret (see
    docs/integrations.md); answered before any registry lookup it makes necessary."""
    secrets: Mapping[str, str] = request.app.state.settings.hook_secrets
    hook = sender if sender in PARSERS else "unknown"

    def refuse(status: int, message: str, hint: str = "") -> JSONResponse:
        WEBHOOK_EVENTS.labels(hook, "rejected").inc()
        return error(status, message, hint)

    if sender not in PARSERS or not secrets.get(sender):
        return refuse(404, f"no {sender} hook is configured here", _hint(sender))
    try:
        body = await read_limited(request, MAX_HOOK_BODY_BYTES)
    except BodyTooLarge:
        return refuse(413, f"the body is larger than {MAX_HOOK_BODY_BYTES} bytes")
    if not authorized(sender, secrets[sender], request.headers, request.query_params, body):
        return refuse(401, "the shared secret is missing or wrong", _hint(sender))
    if not _is_json(request.headers.get("content-type", "")):
        return refuse(415, "the body must be JSON", "send Content-Type: application/json")
    event = request.headers.get("x-github-event", "")
    if sender == "ghcr" and event not in GITHUB_EVENTS:  # "ping" when the hook is created
        WEBHOOK_EVENTS.labels(hook, "ignored").inc()
        ignored = [{"what": event or "no X-GitHub-Event", "reason": "not a package event"}]
        return JSONResponse({"accepted": [], "ignored": ignored}, 202)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return refuse(400, f"the body is not JSON: {exc}")
    try:
        notification: Notification = PARSERS[sender](document)
    except BadPayload as exc:
        return refuse(422, exc.message, exc.hint)
    intake = shared(request, "push_intake", push_intake)
    try:
        accepted = await run_in_threadpool(lambda: [intake.accept(i) for i in notification.pushed])
    except Overloaded as exc:
        response = refuse(503, exc.message, exc.hint)
        response.headers["Retry-After"] = "30"
        return response
    except DetonateError as exc:  # the store cannot take it now: the registry resends
        return refuse(503, exc.message, exc.hint)
    for item in accepted:
        outcome = "resolving" if not item.scan_id else "queued" if item.created else "duplicate"
        WEBHOOK_EVENTS.labels(hook, outcome).inc()
    if notification.ignored:
        WEBHOOK_EVENTS.labels(hook, "ignored").inc(len(notification.ignored))
    return JSONResponse(
        {
            "accepted": [item.to_json() for item in accepted],
            "ignored": [{"what": i.what, "reason": i.reason} for i in notification.ignored],
        },
        status_code=202,
    )


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
    """The service's one error shape: {"error": {"code": …, "message": …, "hint": …}}."""
    extra = {"hint": hint} if hint else {}
    return JSONResponse(error_body(status, message, **extra), status_code=status)


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
