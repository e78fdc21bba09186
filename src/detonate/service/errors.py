"""Every error the service answers is JSON of one shape, whatever raised it:

    HTTP/1.1 404 Not Found
    {"error": {"code": "not_found", "message": "no scan 5c0f…"}}

`BodyLimit` (ASGI middleware) refuses bodies over the limit while they are read: a declared
Content-Length over it is refused before a byte is read, a chunked body once it passes it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("detonate.service")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}


class ApiError(HTTPException):
    """An error with a machine-readable code: `ApiError(404, "no scan x", "scan_not_found")`."""

    def __init__(
        self, status: int, message: str, code: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, message, headers)
        self.code = code or CODES.get(status, "error")


def error_body(status: int, message: str, code: str = "", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code or CODES.get(status, "error"), "message": message}
    body.update(extra)
    return {"error": body}


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        code = getattr(error, "code", "") or CODES.get(error.status_code, "error")
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"no such path: {request.url.path}"
        if error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return JSONResponse(
            error_body(error.status_code, message, code),
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in error.errors()
        ]
        first = problems[0] if problems else {"field": "", "problem": "invalid"}
        message = f"{first['field']}: {first['problem']}" if first["field"] else first["problem"]
        return JSONResponse(error_body(422, message, details=problems), status_code=422)

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(
            error_body(500, "the server failed to answer this request; see its log"),
            status_code=500,
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, self.max_bytes)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise ApiError(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


async def _refuse(send: Send, limit: int) -> None:
    body = JSONResponse(error_body(413, _too_large(limit))).body
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
