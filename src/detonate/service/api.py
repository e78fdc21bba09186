"""The REST API, /api/v1 (bearer token required; see auth.py):

    POST /api/v1/scans                      {"reference": "registry.test/app:1"} → the scan
    GET  /api/v1/scans/{id}                 status, stage, verdict
    GET  /api/v1/scans/{id}/report?format=  json | sarif | html | stix
    GET  /api/v1/scans/{id}/judgements      every verdict it had (scan, then each rejudge)
    GET  /api/v1/scans?verdict=&status=&image=&since=&limit=
    DELETE /api/v1/scans/{id}               cancel a queued or running scan
    GET  /api/v1/images/{digest}/verdict    the latest verdict of a digest

POST answers 202 when it queued a new scan and 200 when a scan of the same cache key (digest,
platform, detonate version, rules, profile) already exists — queued, running, done or
poisoned — with that scan in the body either way (`created` tells which). A failed scan is
queued again by a new request (202).
"""

from __future__ import annotations

import json
from datetime import datetime
from email.message import Message
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detonate.acquire.reference import parse_reference
from detonate.acquire.resolve import Resolved
from detonate.errors import (
    AcquireError,
    AuthRefused,
    DetonateError,
    ImageNotFound,
    RegistryUnreachable,
    UnsupportedPlatform,
    UsageError,
)
from detonate.model.image import Platform
from detonate.report import html, ioc_export, json_report, sarif
from detonate.service.errors import ApiError
from detonate.service.scans import request_and_queue
from detonate.service.settings import Settings
from detonate.store import ScanFilter, ScanRecord, ScanStatus, Source, Store, VerdictRecord

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
REPORT_TYPES = {
    "json": "application/json",
    "sarif": "application/sarif+json",
    "html": "text/html; charset=utf-8",
    "stix": "application/stix+json;version=2.1",
}
RENDER = {"sarif": sarif.dumps, "html": html.render, "stix": ioc_export.to_stix}

router = APIRouter(prefix="/api/v1", tags=["scans"])


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(
        min_length=1,
        max_length=1024,
        description="docker://NAME[:TAG|@DIGEST] or NAME[:TAG]",
        examples=["registry.test/team/app:1"],
    )
    platform: str | None = Field(None, max_length=64, examples=["linux/amd64"])
    profile: Literal["full", "static"] | None = Field(
        None, description="full: static analysis and a sandbox run; static: no run"
    )
    priority: int = Field(0, ge=-100, le=100)


class ScanOut(BaseModel):
    id: str
    created: bool | None = Field(None, description="POST only: whether this request queued it")
    reference: str
    digest: str
    platform: str
    profile: str
    source: str
    status: ScanStatus
    stage: str = Field(description="the stage running now (acquire, unpack, static, sandbox)")
    attempts: int
    reason: str
    verdict: str | None
    score: int | None
    deciding_rule: str
    deciding_title: str
    judged_ruleset_hash: str = Field(
        description='the rules that judged the current verdict ("" when not known)'
    )
    rejudged_at: datetime | None = Field(
        description="when `detonate rejudge` last replaced the verdict; null: the scan's own"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    links: dict[str, str]


class ScanList(BaseModel):
    scans: list[ScanOut]


class VerdictOut(BaseModel):
    digest: str
    platform: str
    verdict: str
    score: int
    rule_id: str
    title: str
    scan_id: str
    finished_at: datetime
    ruleset_hash: str
    rejudged_at: datetime | None


class JudgementOut(BaseModel):
    judged_at: datetime
    kind: Literal["scan", "rejudge"]
    ruleset_hash: str
    tool_version: str
    verdict: str
    score: int
    deciding_rule: str
    findings: int


class JudgementList(BaseModel):
    scan_id: str
    judgements: list[JudgementOut] = Field(description="oldest first: the last is the current")


def scan_out(record: ScanRecord, created: bool | None = None) -> ScanOut:
    base = f"/api/v1/scans/{record.id}"
    return ScanOut(
        id=record.id,
        created=created,
        reference=record.reference,
        digest=record.digest,
        platform=record.platform,
        profile=record.profile,
        source=record.source.value,
        status=record.status,
        stage=record.stage,
        attempts=record.attempts,
        reason=record.reason,
        verdict=record.verdict,
        score=record.score,
        deciding_rule=record.deciding_rule,
        deciding_title=record.deciding_title,
        judged_ruleset_hash=record.judged_ruleset_hash,
        rejudged_at=record.rejudged_at,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_seconds=record.duration_seconds,
        links={"self": base, "report": base + "/report", "judgements": base + "/judgements"},
    )


async def read_json(request: Request, model: type[BaseModel]) -> Any:
    """The body as `model`: 415 unless JSON, 400 when empty or malformed, 422 when it does
    not fit the model. (BodyLimit has already bounded its size.)"""
    header = request.headers.get("content-type", "")
    parsed = Message()
    parsed["content-type"] = header
    kind = parsed.get_content_type()
    if not header or not (kind == "application/json" or kind.endswith("+json")):
        raise ApiError(415, f"send the body as application/json, not {header or 'nothing'!r}", "")
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "the request body is empty", "empty_body")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}", "malformed_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


def _state(request: Request) -> tuple[Settings, Store, Any]:
    state = request.app.state
    return state.settings, state.store, state.queue


def acquire_error(error: DetonateError) -> ApiError:
    """A lookup that failed, as the client should see it."""
    message = f"{error.message} ({error.hint})" if error.hint else error.message
    if isinstance(error, UsageError):
        return ApiError(400, message, "bad_reference")
    if isinstance(error, ImageNotFound):
        return ApiError(422, message, "image_not_found")
    if isinstance(error, AuthRefused):
        return ApiError(422, message, "registry_refused")
    if isinstance(error, UnsupportedPlatform):
        return ApiError(422, message, "unsupported_platform")
    if isinstance(error, RegistryUnreachable):
        return ApiError(502, message, "registry_unreachable")
    if isinstance(error, AcquireError):
        return ApiError(422, message, "image_unreadable")
    return ApiError(400, message, "bad_request")


@router.post(
    "/scans",
    status_code=202,
    response_model=ScanOut,
    responses={200: {"description": "a scan of this image existed already", "model": ScanOut}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ScanRequest.model_json_schema()}},
        }
    },
)
async def create_scan(request: Request, response: Response) -> ScanOut:
    body: ScanRequest = await read_json(request, ScanRequest)
    settings, store, queue = _state(request)
    try:
        ref = parse_reference(body.reference)
        platform = Platform.parse(body.platform or settings.platform)
    except UsageError as error:
        raise acquire_error(error) from None
    except ValueError as error:
        raise ApiError(422, f"platform: {error}", "bad_platform") from None
    if ref.transport != "docker" and not settings.unsafe_allow_local_references:
        raise ApiError(
            400,
            f"{ref.transport}: references name files on the server; only registry images "
            "(docker://) can be scanned through the API",
            "local_reference_refused",
        )
    try:
        resolved: Resolved = await run_in_threadpool(
            request.app.state.resolver.resolve, ref, platform
        )
    except DetonateError as error:
        raise acquire_error(error) from None
    record, created = await run_in_threadpool(
        request_and_queue,
        store,
        queue,
        resolved,
        source=Source.API,
        profile=body.profile or settings.profile,
        priority=body.priority,
        reference=str(ref),
    )
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"/api/v1/scans/{record.id}"
    return scan_out(record, created)


@router.get("/scans", response_model=ScanList)
def list_scans(
    request: Request,
    verdict: Literal["malicious", "suspicious", "clean", "error"] | None = None,
    status: ScanStatus | None = None,
    image: Annotated[
        str | None, Query(max_length=1024, description="a digest or part of a name")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="ISO 8601; scans requested since then")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ScanList:
    _, store, _ = _state(request)
    found = store.list_scans(ScanFilter(verdict, status, image, since, limit))
    return ScanList(scans=[scan_out(r) for r in found])


def _scan(store: Store, scan_id: str) -> ScanRecord:
    record = store.get_scan(scan_id) if len(scan_id) <= 64 else None
    if record is None:
        raise ApiError(404, f"no scan {scan_id[:64]}", "scan_not_found")
    return record


@router.get("/scans/{scan_id}", response_model=ScanOut)
def get_scan(request: Request, scan_id: str) -> ScanOut:
    _, store, _ = _state(request)
    return scan_out(_scan(store, scan_id))


@router.get(
    "/scans/{scan_id}/report",
    responses={
        200: {"content": {t: {} for t in REPORT_TYPES.values()}, "description": "the report"},
        409: {"description": "the scan has no report yet"},
    },
)
def get_report(
    request: Request,
    scan_id: str,
    format: Literal["json", "sarif", "html", "stix"] = "json",
) -> Response:
    _, store, _ = _state(request)
    record = _scan(store, scan_id)
    text = store.report_json(scan_id)
    if text is None:
        raise ApiError(
            409, f"scan {scan_id} is {record.status.value}: no report yet", "report_not_ready"
        )
    if format != "json":
        text = RENDER[format](json_report.from_document(json.loads(text)))
    headers = {"Content-Disposition": f'inline; filename="detonate-{scan_id}.{format}"'}
    if format == "html":  # the report is sample-controlled text: it may never run or load
        headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
        )
    return Response(
        text.encode("utf-8", "backslashreplace"),
        media_type=REPORT_TYPES[format],
        headers=headers,
    )


@router.get("/images/{digest}/verdict", response_model=VerdictOut, tags=["images"])
def image_verdict(
    request: Request,
    digest: Annotated[str, Path(pattern=DIGEST_PATTERN)],
    platform: Annotated[str, Query(max_length=64)] = "linux/amd64",
) -> VerdictOut:
    _, store, _ = _state(request)
    found: VerdictRecord | None = store.verdict_for(digest, platform)
    if found is None:
        raise ApiError(404, f"no finished scan of {digest} ({platform})", "no_verdict")
    return VerdictOut(
        digest=found.digest,
        platform=found.platform,
        verdict=found.verdict,
        score=found.score,
        rule_id=found.rule_id,
        title=found.title,
        scan_id=found.scan_id,
        finished_at=found.finished_at,
        ruleset_hash=found.ruleset_hash,
        rejudged_at=found.rejudged_at,
    )


@router.get("/scans/{scan_id}/judgements", response_model=JudgementList)
def scan_judgements(request: Request, scan_id: str) -> JudgementList:
    """The scan's verdicts, oldest first: its own, then each rejudge's that replaced it."""
    _, store, _ = _state(request)
    _scan(store, scan_id)  # 404 for an unknown scan
    return JudgementList(
        scan_id=scan_id,
        judgements=[
            JudgementOut(
                judged_at=j.judged_at,
                kind="rejudge" if j.kind == "rejudge" else "scan",
                ruleset_hash=j.ruleset_hash,
                tool_version=j.tool_version,
                verdict=j.verdict,
                score=j.score,
                deciding_rule=j.deciding_rule,
                findings=j.findings,
            )
            for j in store.judgements(scan_id)
        ],
    )


@router.delete("/scans/{scan_id}", status_code=202, response_model=ScanOut)
def cancel_scan(request: Request, scan_id: str) -> ScanOut:
    """Cancel a queued or running scan (a running one stops within a second, torn down)."""
    _, store, queue = _state(request)
    record = _scan(store, scan_id)
    if not record.active:
        raise ApiError(409, f"scan {scan_id} is {record.status.value} already", "scan_finished")
    # Not the queue's (a scan it never had, or one that finished meanwhile): failed here only
    # while the store still calls it active, never a scan that finished first.
    if not queue.cancel(scan_id) and store.cancel(scan_id, "cancelled") is None:
        finished = store.get_scan(scan_id) or record
        raise ApiError(409, f"scan {scan_id} is {finished.status.value} already", "scan_finished")
    return scan_out(store.get_scan(scan_id) or record)
