"""/dashboard: server-rendered pages over the store. No scripts, no external resources; works
without JavaScript (running scans refresh with <meta http-equiv="refresh">).

    /dashboard                       scans, filtered by verdict, status, image, last hours
    /dashboard/scans/<id>            the scan's HTML report (the CLI's), or its status
    /dashboard/images?repository=R   a repository's tag history, each digest with its verdict
    /dashboard/admissions            the latest admission decisions

Signing in stores an API token (`detonate token create NAME`) in an HttpOnly cookie; a bearer
Authorization header works too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detonate.acquire.reference import parse_reference
from detonate.errors import DetonateError
from detonate.report import html as html_report
from detonate.report.json_report import from_document
from detonate.store import ScanFilter, ScanRecord, ScanStatus, Store

router = APIRouter(prefix="/dashboard", include_in_schema=False)
COOKIE = "detonate_token"
NAV = (
    ("/dashboard", "Scans"),
    ("/dashboard/images", "Images"),
    ("/dashboard/admissions", "Admissions"),
)
VERDICTS = ("malicious", "suspicious", "clean", "error")
REFRESH_SECONDS = 5


@cache
def _template() -> jinja2.Template:
    text = resources.files("detonate.service").joinpath("templates/dashboard.html.j2").read_text()
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(text)


def page(title: str, kind: str, status: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("refresh", 0)
    body = _template().render(title=title, page=kind, nav=NAV, **values)
    return HTMLResponse(body, status_code=status)


def signed_in(request: Request) -> bool:
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE, "")
    store: Store = request.app.state.store
    return 0 < len(token) <= 256 and store.check_token(token)


def to_login() -> Response:
    return RedirectResponse("/dashboard/login", status_code=303)


@router.get("/login")
def login_form() -> HTMLResponse:
    return page("Sign in", "login", failed=False)


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body())[:4096].decode(errors="replace"))
    token = (form.get("token") or [""])[0].strip()
    store: Store = request.app.state.store
    if not token or len(token) > 256 or not await run_in_threadpool(store.check_token, token):
        return page("Sign in", "login", status=401, failed=True)
    answer = RedirectResponse("/dashboard", status_code=303)
    secure = request.url.scheme == "https"
    answer.set_cookie(COOKIE, token, httponly=True, secure=secure, samesite="lax", max_age=86400)
    return answer


@router.get("")
def scans(
    request: Request, verdict: str = "", status: str = "", image: str = "", hours: str = ""
) -> Response:
    if not signed_in(request):
        return to_login()
    where = ScanFilter(
        verdict=verdict if verdict in VERDICTS else None,
        status=ScanStatus(status) if status in {s.value for s in ScanStatus} else None,
        image=image.strip()[:512] or None,
        since=datetime.now(UTC) - timedelta(hours=int(hours)) if hours.isdigit() else None,
        limit=200,
    )
    store: Store = request.app.state.store
    records = store.list_scans(where)
    rows = [_scan_row(record) for record in records]
    return page(
        "Scans",
        "scans",
        scans=rows,
        verdicts=VERDICTS,
        statuses=[s.value for s in ScanStatus],
        filters={"verdict": verdict, "status": status, "image": image, "hours": hours},
        refresh=REFRESH_SECONDS if any(record.active for record in records) else 0,
    )


@router.get("/scans/{scan_id}")
def one_scan(request: Request, scan_id: str) -> Response:
    if not signed_in(request):
        return to_login()
    store: Store = request.app.state.store
    record = store.get_scan(scan_id) if len(scan_id) <= 64 else None
    if record is None:
        return page("No such scan", "scan", status=404, scan=_missing(scan_id))
    text = store.report_json(scan_id) if record.status is ScanStatus.DONE else None
    if text is None:
        refresh = REFRESH_SECONDS if record.active else 0
        return page(f"Scan {scan_id}", "scan", scan=record, refresh=refresh)
    import json

    return HTMLResponse(html_report.render(from_document(json.loads(text))))


@router.get("/images")
def images(request: Request, repository: str = "") -> Response:
    if not signed_in(request):
        return to_login()
    store: Store = request.app.state.store
    repository = repository.strip()[:512]
    history = []
    for seen in store.tag_history(repository) if repository else []:
        verdict = store.verdict_for(seen.digest)
        history.append(
            {
                "seen": _when(seen.observed_at),
                "tag": seen.tag,
                "digest": seen.digest,
                "verdict": verdict.verdict if verdict else "",
                "source": str(seen.source),
            }
        )
    recent = sorted(
        {_repository(r.reference) for r in store.list_scans(ScanFilter(limit=200))} - {""}
    )
    return page("Images", "images", repository=repository, history=history, repositories=recent)


@router.get("/admissions")
def admissions(request: Request) -> Response:
    if not signed_in(request):
        return to_login()
    store: Store = request.app.state.store
    decisions = [
        {
            "decided": _when(d.decided_at),
            "answer": "allowed" if d.allowed else "denied",
            "namespace": d.namespace,
            "kind": d.kind,
            "name": d.name,
            "image": d.image,
            "digest": d.digest,
            "verdict": d.verdict,
            "message": d.message,
        }
        for d in store.admissions(limit=200)
    ]
    return page("Admissions", "admissions", decisions=decisions)


def _scan_row(record: ScanRecord) -> dict[str, Any]:
    deciding = f"{record.deciding_rule}: {record.deciding_title}" if record.deciding_rule else ""
    return {
        "id": record.id,
        "created": _when(record.created_at),
        "reference": record.reference,
        "status": record.status.value,
        "stage": record.stage,
        "verdict": record.verdict or "",
        "score": "" if record.score is None else record.score,
        "deciding": deciding,
        "source": str(record.source),
    }


def _missing(scan_id: str) -> dict[str, str]:
    return {"reference": scan_id, "status": "unknown", "stage": "", "reason": "no such scan"}


def _repository(reference: str) -> str:
    try:
        return parse_reference(reference).repository
    except DetonateError:
        return ""


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
