"""/healthz (the process answers), /readyz (the store answers and the workers run), /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from detonate.service import metrics
from detonate.service.auth import require_token

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    problems = []
    try:
        with request.app.state.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to reach the database means not ready
        problems.append(f"store: {type(error).__name__}")
    alive = getattr(request.app.state.queue, "workers_alive", None)
    if alive is not None and not alive():
        problems.append("workers: not running")
    status = 503 if problems else 200
    body = {"status": "ready" if not problems else "not ready", "problems": problems}
    return JSONResponse(body, status_code=status)


@router.get("/metrics", response_class=Response)
def prometheus(request: Request) -> Response:
    if request.app.state.settings.metrics_need_token:
        require_token(request)
    body = metrics.exposition(request.app.state.store, request.app.state.queue)
    return Response(body, media_type=metrics.CONTENT_TYPE)
