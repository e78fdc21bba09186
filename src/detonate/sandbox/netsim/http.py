"""HTTP/1.x: requests recorded, answered with stand-in payloads; the Docker API rides on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from detonate.sandbox.netsim import metadata, payloads
from detonate.sandbox.netsim.recorder import Flow, Recorder, preview
from detonate.sandbox.netsim.stream import Closed, Stream

REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}
METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ")
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024  # read and dropped past the recorded part; more closes
MAX_REQUESTS = 1000  # per connection
MAX_HEADERS_RECORDED = 64


def looks_like_http(data: bytes) -> bool:
    return data.startswith(METHODS)


def split_target(target: str) -> SplitResult:
    """A request-target's path and query. urlsplit refuses some ("//[x/…": an IPv6 host that
    never closes); those are read as a plain path, as an HTTP server reads a request-target."""
    try:
        return urlsplit(target)
    except ValueError:
        path, _, query = target.partition("?")
        return SplitResult("", "", path.partition("#")[0], query.partition("#")[0], "")


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # the recorded part
    body_bytes: int = 0

    def header(self, name: str) -> str:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), "")

    @property
    def keep_alive(self) -> bool:
        connection = self.header("connection").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


async def read_request(stream: Stream, body_cap: int) -> Request:
    # GET /p.sh HTTP/1.1\r\nHost: x.test\r\nUser-Agent: Wget\r\n\r\n
    head = await stream.readuntil(b"\r\n\r\n", MAX_HEADER_BYTES)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2:
        raise Closed
    request = Request(parts[0], parts[1], parts[2] if len(parts) > 2 else "HTTP/1.0")
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            request.headers.append((key.strip(), value.strip()))
    if request.header("transfer-encoding").lower() == "chunked":
        await _read_chunked(stream, request, body_cap)
    else:
        try:
            length = int(request.header("content-length") or 0)
        except ValueError:
            length = 0
        if length < 0 or length > MAX_BODY_BYTES:
            raise Closed
        await _read_body(stream, request, length, body_cap)
    return request


async def _read_body(stream: Stream, request: Request, length: int, body_cap: int) -> None:
    while length > 0:
        chunk = await stream.readexactly(min(length, 65536))
        length -= len(chunk)
        request.body_bytes += len(chunk)
        if len(request.body) < body_cap:
            request.body += chunk[: body_cap - len(request.body)]


async def _read_chunked(stream: Stream, request: Request, body_cap: int) -> None:
    # 1a;ext\r\n<26 bytes>\r\n … 0\r\n\r\n
    while True:
        size_line = await stream.readline(1024)
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError as error:
            raise Closed from error
        if size == 0:
            while (await stream.readline(8192)).strip():
                pass  # trailers
            return
        if request.body_bytes + size > MAX_BODY_BYTES:
            raise Closed
        await _read_body(stream, request, size, body_cap)
        await stream.readexactly(2)


def response(
    status: int,
    reason: str,
    body: bytes,
    content_type: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    headers = [
        f"HTTP/1.1 {status} {reason}",
        "Server: nginx",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{key}: {value}" for key, value in extra),
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def record(
    recorder: Recorder, flow: Flow, request: Request, record_bytes: int, **extra: Any
) -> None:
    recorder.emit(
        "http_requested",
        flow,
        method=request.method,
        host=request.header("host"),
        path=request.target,
        headers=[list(pair) for pair in request.headers[:MAX_HEADERS_RECORDED]],
        body_bytes=request.body_bytes,
        body_preview=preview(request.body, record_bytes),
        tls=flow.tls,
        sni=flow.sni,
        **extra,
    )


async def serve_http(
    stream: Stream,
    flow: Flow,
    recorder: Recorder,
    rules: tuple[tuple[str, str], ...],
    record_bytes: int,
) -> None:
    for _ in range(MAX_REQUESTS):
        if not stream.buffer and not await stream.fill():
            return
        request = await read_request(stream, record_bytes)
        if metadata.is_metadata(flow.dst_ip):
            payload = metadata.answer(request.method, request.target)
        else:
            payload = payloads.choose(request.target, request.header("user-agent"), rules)
        record(recorder, flow, request, record_bytes, served=payload.kind, status=payload.status)
        reply = response(
            payload.status,
            REASONS.get(payload.status, "OK"),
            payload.body,
            payload.content_type,
            (("Connection", "keep-alive" if request.keep_alive else "close"),),
        )
        if request.method == "HEAD":
            reply = reply[: reply.index(b"\r\n\r\n") + 4]
        await stream.send(reply)
        if not request.keep_alive:
            return
