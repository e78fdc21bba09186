"""Harbor's pluggable scanner API (spec 1.1/1.2): Harbor registers detonate as a scanner and
drives it like this:

    GET  /api/v1/metadata                → who we are, what we consume and produce
    POST /api/v1/scan  {registry, artifact}   → 202 {"id": "<scan id>"}
    GET  /api/v1/scan/<id>/report        → 302 + Refresh-After while queued or running,
                                           then 200 with the report in the Accept'ed type

The id is the store's scan id, so a push that a webhook already queued and Harbor's scan of the
same digest are one scan. (Harbor's `/api/v1/scan` and the service's `/api/v1/scans` are
different paths; nothing else lives under these.) The request's `registry.authorization`
(Harbor's robot credential for this scan) is what the scan pulls with, held in memory only
(service/scan_credentials.py). Errors come in Harbor's shape,
`{"error": {"message": …}}`, with its error MIME type.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from detonate import __version__
from detonate.acquire.manifest import MANIFEST_TYPES
from detonate.acquire.reference import parse_reference
from detonate.acquire.resolve import Resolved
from detonate.errors import AcquireError, DetonateError
from detonate.model.image import Platform
from detonate.service.errors import CODES
from detonate.service.harbor_report import (
    DETONATE_MIME,
    ERROR_MIME,
    HARBOR_REPORT_MIME,
    METADATA_MIME,
    RAW_MIME,
    REPORT_MIME,
    SCAN_RESPONSE_MIME,
    ScannerInfo,
    error_body,
    metadata,
    vulnerability_report,
)
from detonate.service.hooks import BodyTooLarge, read_limited
from detonate.service.registry_events import DIGEST_PATTERN, REPOSITORY_PATTERN
from detonate.service.scan_credentials import ScanCredentials, parse_authorization
from detonate.service.scans import Resolver, request_and_queue
from detonate.service.settings import Settings
from detonate.store import ScanRecord, ScanStatus, Store

REFRESH_AFTER_SECONDS = 5
MAX_SCAN_REQUEST_BYTES = 64 * 1024
HARBOR_SOURCE = "api"


router = APIRouter(prefix="/api/v1", tags=["harbor scanner adapter"])
SCANNER = ScannerInfo("detonate", "detonate", __version__)


def refused(request: Request) -> Response | None:
    """Harbor sends the Authorization it was registered with: `Bearer <a detonate token>`
    (`detonate token create harbor`)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    store: Store = request.app.state.store
    if scheme.lower() == "bearer" and 0 < len(token) <= 256 and store.check_token(token.strip()):
        return None
    return harbor_error(
        401, "missing or wrong Authorization: register the scanner with `Bearer <a detonate token>`"
    )


@router.get("/metadata")
def scanner_metadata(request: Request) -> Response:
    if (denied := refused(request)) is not None:
        return denied
    settings: Settings = request.app.state.settings
    properties = {"detonate/platform": settings.platform, "detonate/profile": settings.profile}
    return JSONResponse(metadata(SCANNER, properties), media_type=METADATA_MIME)


@router.post("/scan")
async def accept_scan(request: Request) -> Response:
    if (denied := await run_in_threadpool(refused, request)) is not None:
        return denied
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("application/vnd.scanner.adapter.scan.request+json", "application/json"):
        return harbor_error(415, f"a ScanRequest is JSON, not {media or 'untyped'}")
    try:
        body = await read_limited(request, MAX_SCAN_REQUEST_BYTES)
        document = json.loads(body)
    except BodyTooLarge:
        return harbor_error(413, f"a ScanRequest is under {MAX_SCAN_REQUEST_BYTES} bytes")
    except (ValueError, UnicodeDecodeError) as exc:
        return harbor_error(400, f"the body is not JSON: {exc}")
    try:
        host, repository, digest, mime_type = scan_target(document)
    except ValueError as exc:
        return harbor_error(422, str(exc))
    try:  # Harbor's short-lived robot credential for this pull (None: pull with our own)
        credentials = parse_authorization(document["registry"].get("authorization"))
    except ValueError as exc:
        return harbor_error(400, str(exc))
    held: ScanCredentials | None = request.app.state.scan_credentials
    settings: Settings = request.app.state.settings
    platform = Platform.parse(settings.platform)
    reference = parse_reference(f"docker://{host}/{repository}@{digest}")

    def request_scan() -> str:
        resolved = Resolved(reference, digest, "", str(platform))
        if mime_type not in MANIFEST_TYPES:  # unknown or an index: pick our platform's image
            resolver: Resolver = request.app.state.resolver
            resolved = resolver.resolve(reference, platform, credentials)
        pinned = str(reference.pinned(resolved.digest))

        def leave_credentials(record: ScanRecord) -> None:
            # Also for a scan another source queued that no worker has taken yet; a done
            # one (deduplicated) pulls nothing.
            if held is not None and credentials is not None and record.status is ScanStatus.QUEUED:
                held.put(record.id, credentials)

        scan, _ = request_and_queue(
            request.app.state.store,
            request.app.state.queue,
            resolved,
            source=HARBOR_SOURCE,
            profile=settings.profile,
            reference=pinned,
            before_queue=leave_credentials,
        )
        return scan.id

    try:
        scan_id = await run_in_threadpool(request_scan)
    except AcquireError as exc:
        return harbor_error(422, f"{reference} could not be read from the registry: {exc.message}")
    except DetonateError as exc:
        return harbor_error(500, exc.message)
    return JSONResponse({"id": scan_id}, status_code=202, media_type=SCAN_RESPONSE_MIME)


@router.get("/scan/{scan_request_id}/report")
def scan_report(scan_request_id: str, request: Request) -> Response:
    if (denied := refused(request)) is not None:
        return denied
    wanted = chosen_type(request.headers.get("accept", ""))
    if wanted is None:
        return harbor_error(
            400, f"cannot produce {request.headers.get('accept')!r}; ask for {REPORT_MIME}"
        )
    store: Store = request.app.state.store
    scan = store.get_scan(scan_request_id) if len(scan_request_id) <= 64 else None
    if scan is None:
        return harbor_error(404, f"no scan {scan_request_id!r}")
    if scan.status in (ScanStatus.QUEUED, ScanStatus.RUNNING):
        return Response(status_code=302, headers={"Refresh-After": str(REFRESH_AFTER_SECONDS)})
    if scan.status != ScanStatus.DONE:
        return harbor_error(500, f"the scan {scan.status}: {scan.reason or 'no reason recorded'}")
    text = store.report_json(scan_request_id)
    if text is None:
        return harbor_error(500, "the scan is done but its report is missing")
    report = json.loads(text)
    if report.get("verdict") == "error":
        failed = report.get("error") or {}
        return harbor_error(
            500, f"the scan failed in {failed.get('stage', '?')}: {failed.get('message', '')}"
        )
    if wanted in (RAW_MIME, DETONATE_MIME):
        return Response(text, media_type=wanted)
    return JSONResponse(vulnerability_report(report, artifact_of(scan), SCANNER), media_type=wanted)


def scan_target(document: object) -> tuple[str, str, str, str]:
    """A ScanRequest → (registry host, repository, digest, mime type); ValueError says why not.

    {"registry": {"url": "https://core.harbor.domain", "authorization": "Basic …"},
     "artifact": {"repository": "library/mongo", "digest": "sha256:…", "tag": "3.14",
                  "mime_type": "application/vnd.docker.distribution.manifest.v2+json"}}
    """
    if not isinstance(document, dict):
        raise ValueError("a ScanRequest is a JSON object")
    registry, artifact = document.get("registry"), document.get("artifact")
    if not isinstance(registry, dict) or not isinstance(artifact, dict):
        raise ValueError("a ScanRequest has `registry` and `artifact` objects")
    url = registry.get("url")
    host = urlsplit(url).netloc if isinstance(url, str) and "://" in url else ""
    if not host or not all(c.isalnum() or c in ".-:" for c in host):
        raise ValueError(f"registry.url {url!r} is not a registry's base URL")
    repository, digest = artifact.get("repository"), artifact.get("digest")
    if not isinstance(repository, str) or not REPOSITORY_PATTERN.match(repository):
        raise ValueError(f"artifact.repository {repository!r} is not a repository name")
    if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
        raise ValueError(f"artifact.digest {digest!r} is not sha256: and 64 hex digits")
    mime_type = artifact.get("mime_type")
    return host, repository, digest, mime_type if isinstance(mime_type, str) else ""


def chosen_type(accept: str) -> str | None:
    """The report type to answer with: the first of the Accept header's that we produce.
    Harbor sends one type with its version parameter: `…report; version=1.1`."""
    offered = {
        _normal(REPORT_MIME): REPORT_MIME,
        _normal(HARBOR_REPORT_MIME): HARBOR_REPORT_MIME,
        RAW_MIME: RAW_MIME,
        DETONATE_MIME: DETONATE_MIME,
    }
    if not accept.strip():
        return REPORT_MIME
    for part in accept.split(","):
        normal = _normal(part)
        if normal in offered:
            return offered[normal]
        if normal.split(";", 1)[0] in ("*/*", "application/*", "application/json"):
            return REPORT_MIME
    return None


def artifact_of(scan: Any) -> dict[str, str]:
    reference = parse_reference(str(scan.reference))
    repository = reference.repository.split("/", 1)[1] if "/" in reference.repository else ""
    return {"repository": repository, "digest": str(scan.digest)}


def harbor_error(status: int, message: str) -> Response:
    body = error_body(message, CODES.get(status, "error"))
    return JSONResponse(body, status_code=status, media_type=ERROR_MIME)


def _normal(media_type: str) -> str:
    """ "application/x; version=1.1" and "application/x;version=1.1" compare equal; q= dropped."""
    parts = [p.strip().lower() for p in media_type.split(";")]
    params = sorted(p.replace(" ", "") for p in parts[1:] if p and not p.startswith("q="))
    return ";".join([parts[0], *params])
