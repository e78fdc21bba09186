"""`detonate honeypot`: a Docker Engine API on TCP that answers, records and runs nothing.

    honeypot = Honeypot(store, HoneypotSettings(ports=(2375, 4243), tls_ports=(2376,)))
    await honeypot.serve()          # until cancelled

Each connection: read an HTTP/1.1 request (limits on head, body and time), let the source's
`FakeDaemon` answer it, answer, and queue the request whole for the store. A writer task records
queued requests in batches (one transaction each, in a thread: a slow database slows the
recording, not the answers); a `containers/create` or an exec also queues a scan of the image
as the attacker ran it (`deployments.queue_scan`). `flush()` waits for the recording.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote

from detonate.honeypot import deployments
from detonate.honeypot.daemon import (
    API_VERSION,
    ENGINE_VERSION,
    Answer,
    Deployment,
    FakeDaemon,
    error_answer,
    split_version,
)
from detonate.honeypot.geo import country_of
from detonate.honeypot.records import RecordedRequest, SessionBook
from detonate.sandbox.netsim.http import split_target
from detonate.sandbox.netsim.stream import Closed, Stream
from detonate.store import Store

log = logging.getLogger("detonate.honeypot")
MAX_HEAD_BYTES = 32 * 1024
WRITE_BATCH = 500  # requests recorded per transaction at most
REASONS = {
    101: "UPGRADED",
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    411: "Length Required",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class HoneypotSettings:
    host: str = "127.0.0.1"  # exposing it is a deliberate choice (docs/honeypot.md)
    ports: tuple[int, ...] = (2375, 4243)
    tls_ports: tuple[int, ...] = ()  # 2376 usually; needs tls_cert and tls_key
    tls_cert: Path | None = None
    tls_key: Path | None = None
    name: str = "honeypot"
    session_window_seconds: float = 3600.0
    max_body_bytes: int = 1024 * 1024  # larger bodies get 413 and the connection closes
    record_body_bytes: int = 64 * 1024  # what is stored of a body
    request_seconds: float = 10.0  # to send a whole request (head and body): slowloris ends
    idle_seconds: float = 30.0  # between requests on a kept-alive connection
    requests_per_second: float = 20.0  # per source address, burst of `burst`
    burst: int = 40
    max_connections: int = 256
    max_connections_per_source: int = 16
    max_sessions_in_memory: int = 10_000
    max_pending_records: int = 10_000  # answered requests waiting for the store


@dataclass
class _Source:
    daemon: FakeDaemon = field(default_factory=FakeDaemon)
    tokens: float = 0.0
    refilled: float = 0.0
    connections: int = 0
    last_seen: float = 0.0  # monotonic; a new session (after the window) gets a fresh daemon


_Pending = tuple[str, RecordedRequest, Deployment | None]  # (source address, request, …)


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    body_size: int = 0

    def header(self, name: str) -> str:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), "")


class _Refused(Exception):
    """A request the honeypot answers with an error and then hangs up on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Honeypot:
    def __init__(self, store: Store, settings: HoneypotSettings) -> None:
        self.store, self.settings = store, settings
        self.book = SessionBook(
            store,
            settings.name,
            timedelta(seconds=settings.session_window_seconds),
            country_of,
        )
        self.sources: OrderedDict[str, _Source] = OrderedDict()
        self.connections = 0
        self.servers: list[asyncio.Server] = []
        # answered requests wait here for the store (bounded: a flood cannot eat the memory)
        self._pending: asyncio.Queue[_Pending] = asyncio.Queue(settings.max_pending_records)
        self._writer: asyncio.Task[None] | None = None
        self.dropped = 0  # requests answered but not recorded (queue full or store down)

    async def start(self) -> list[tuple[str, int, bool]]:
        """Listen on every configured port; the bound (host, port, tls) triples."""
        bound: list[tuple[str, int, bool]] = []
        tls = self._tls_context() if self.settings.tls_ports else None
        for port, context in [(p, None) for p in self.settings.ports] + [
            (p, tls) for p in self.settings.tls_ports
        ]:
            server = await asyncio.start_server(
                self._connection, self.settings.host, port, ssl=context, limit=MAX_HEAD_BYTES
            )
            self.servers.append(server)
            for sock in server.sockets:
                host, real_port = sock.getsockname()[:2]
                bound.append((host, real_port, context is not None))
        self._writer = asyncio.create_task(self._write_behind())
        ports = ",".join(f"{port}{'/tls' if tls else ''}" for _, port, tls in bound)
        await asyncio.to_thread(self.book.record_start, ports)
        return bound

    async def serve(self, announce: Callable[[str], None] | None = None) -> None:
        bound = await self.start()
        if announce is not None:
            listening = ", ".join(f"{h}:{p}{' (TLS)' if tls else ''}" for h, p, tls in bound)
            announce(f"detonate honeypot {self.settings.name!r} listening on {listening}")
        try:
            await asyncio.gather(*(server.serve_forever() for server in self.servers))
        finally:
            await self.stop()

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self.servers.clear()
        if self._writer is not None:
            await self.flush()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    def _tls_context(self) -> ssl.SSLContext:
        if self.settings.tls_cert is None or self.settings.tls_key is None:
            from detonate.errors import DetonateError

            raise DetonateError(
                "TLS ports need a certificate",
                "pass --tls-cert and --tls-key, or --tls-port none",
            )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        return context

    # -- one connection ----------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        local = writer.get_extra_info("sockname") or ("", 0)
        address, port, local_port = str(peer[0]), int(peer[1]), int(local[1])
        source = self._source(address)
        stream = Stream(reader, writer, self.settings.idle_seconds)
        if (
            self.connections >= self.settings.max_connections
            or source.connections >= self.settings.max_connections_per_source
        ):
            stream.close()
            return
        self.connections += 1
        source.connections += 1
        try:
            while True:
                if not stream.buffer and not await stream.fill(self.settings.idle_seconds):
                    break
                keep_alive = await self._exchange(stream, source, address, port, local_port)
                if not keep_alive:
                    break
        except Closed:
            pass
        except Exception:  # one bad exchange must not take the listener down
            log.exception("honeypot connection from %s failed", address)
        finally:
            self.connections -= 1
            source.connections -= 1
            stream.close()

    async def _exchange(
        self, stream: Stream, source: _Source, address: str, port: int, local_port: int
    ) -> bool:
        at = datetime.now(UTC)
        try:
            request = await asyncio.wait_for(self._read(stream), self.settings.request_seconds)
        except TimeoutError:
            raise Closed from None
        except _Refused as refused:
            await stream.send(_head(refused.status, _error_body(refused.message), close=True))
            return False
        target = split_target(request.target)
        version, path = split_version(target.path)
        query = parse_qs(target.query, keep_blank_values=True)
        now = time.monotonic()
        if now - source.last_seen > self.settings.session_window_seconds:
            source.daemon = FakeDaemon()  # the state belongs to the session, as its records do
        source.last_seen = now
        if not self._take_token(source):
            operation, answer = "", error_answer(429, "too many requests")
        else:
            operation, answer = source.daemon.handle(
                request.method, unquote(path), query, request.body
            )
        await self._record(
            address, port, local_port, at, request, target, version, operation, answer
        )
        await self._send(stream, request, answer)
        return not answer.close and request.header("connection").lower() != "close"

    async def _read(self, stream: Stream) -> _Request:
        # POST /v1.41/containers/create HTTP/1.1\r\nHost: …\r\nContent-Length: 312\r\n\r\n{…}
        try:
            head = await stream.readuntil(b"\r\n\r\n", MAX_HEAD_BYTES)
        except Closed:
            if len(stream.buffer) > MAX_HEAD_BYTES:
                raise _Refused(431, "request header too large") from None
            raise
        if len(head) > MAX_HEAD_BYTES:  # it came in one read, separator and all
            raise _Refused(431, "request header too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _Refused(400, "malformed HTTP request line")
        request = _Request(parts[0].upper()[:16], parts[1], [])
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                request.headers.append((key.strip(), value.strip()))
        if request.header("transfer-encoding").lower() == "chunked":
            await self._read_chunked(stream, request)
            return request
        try:
            length = int(request.header("content-length") or 0)
        except ValueError:
            raise _Refused(400, "bad Content-Length") from None
        if length < 0:
            raise _Refused(400, "bad Content-Length")
        if length > self.settings.max_body_bytes:
            raise _Refused(413, f"request body larger than {self.settings.max_body_bytes} bytes")
        request.body = await stream.readexactly(length)
        request.body_size = length
        return request

    async def _read_chunked(self, stream: Stream, request: _Request) -> None:
        # 1a\r\n<26 bytes>\r\n … 0\r\n\r\n
        body = bytearray()
        while True:
            size_line = await stream.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise _Refused(400, "bad chunk size") from None
            if size == 0:
                while (await stream.readline(8192)).strip():
                    pass  # trailers
                break
            if len(body) + size > self.settings.max_body_bytes:
                raise _Refused(
                    413, f"request body larger than {self.settings.max_body_bytes} bytes"
                )
            body += await stream.readexactly(size)
            await stream.readexactly(2)
        request.body, request.body_size = bytes(body), len(body)

    async def _send(self, stream: Stream, request: _Request, answer: Answer) -> None:
        if answer.close and request.header("upgrade").lower() == "tcp":
            # the engine hijacks the connection for attach/exec: 101, then the raw stream
            await stream.send(
                b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                b"Connection: Upgrade\r\nUpgrade: tcp\r\n" + _engine_headers() + b"\r\n"
            )
            return
        if answer.stream is not None:
            await stream.send(
                _status_line(answer.status)
                + _engine_headers()
                + f"Content-Type: {answer.content_type}\r\n".encode()
                + b"Transfer-Encoding: chunked\r\n\r\n"
            )
            if request.method != "HEAD":
                for line in answer.stream:
                    await stream.send(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                    await asyncio.sleep(0)
                await stream.send(b"0\r\n\r\n")
            return
        body = _body_bytes(answer)
        data = _head(answer.status, body, close=answer.close, content_type=answer.content_type)
        await stream.send(data if request.method != "HEAD" else data[: len(data) - len(body)])

    # -- recording ---------------------------------------------------------------------------

    async def _record(
        self,
        address: str,
        port: int,
        local_port: int,
        at: datetime,
        request: _Request,
        target: SplitResult,
        version: str,
        operation: str,
        answer: Answer,
    ) -> None:
        cap = self.settings.record_body_bytes
        kept = request.body[:cap]
        try:
            body, encoding = kept.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(kept).decode(), "base64"
        recorded = RecordedRequest(
            at=at,
            source_port=port,
            local_port=local_port,
            method=request.method,
            path=target.path,
            query=target.query,
            api_version=version,
            operation=operation,
            headers=request.headers[:100],
            body=body,
            body_encoding=encoding,
            body_size=request.body_size,
            body_truncated=len(request.body) > cap,
            status=answer.status,
        )
        try:
            self._pending.put_nowait((address, recorded, answer.deployment))
        except asyncio.QueueFull:  # the store cannot keep up: answer anyway, count the loss
            self.dropped += 1

    async def flush(self) -> None:
        """Wait until every request answered so far is in the store."""
        await self._pending.join()

    async def _write_behind(self) -> None:
        """Writes what `_record` queued, many requests a transaction, off the event loop."""
        while True:
            batch = [await self._pending.get()]
            while len(batch) < WRITE_BATCH and not self._pending.empty():
                batch.append(self._pending.get_nowait())
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception:  # a store outage loses this batch, not the honeypot
                log.exception("could not record %d requests", len(batch))
                self.dropped += len(batch)
            finally:
                for _ in batch:
                    self._pending.task_done()

    def _write(self, batch: list[_Pending]) -> None:
        session_ids = self.book.record_requests([(address, rec) for address, rec, _ in batch])
        for session_id, (_, _, deployment) in zip(session_ids, batch, strict=True):
            if deployment is None:
                continue
            profile = deployments.profile_of(deployment)
            try:
                scan, _ = deployments.queue_scan(self.store, deployment)
                scan_id: str | None = scan.id
            except Exception:  # recorded even when queuing fails; the log says why
                log.exception("could not queue the scan of %s", deployment.image)
                scan_id = None
            self.book.record_deployment(
                session_id, deployment, deployments.decoded_commands(deployment), profile, scan_id
            )

    # -- limits ------------------------------------------------------------------------------

    def _source(self, address: str) -> _Source:
        source = self.sources.get(address)
        if source is None:
            source = _Source(tokens=float(self.settings.burst), refilled=time.monotonic())
            self.sources[address] = source
            while len(self.sources) > self.settings.max_sessions_in_memory:
                self.sources.popitem(last=False)  # the longest-unseen source forgets its state
        self.sources.move_to_end(address)
        return source

    def _take_token(self, source: _Source) -> bool:
        now = time.monotonic()
        source.tokens = min(
            float(self.settings.burst),
            source.tokens + (now - source.refilled) * self.settings.requests_per_second,
        )
        source.refilled = now
        if source.tokens < 1:
            return False
        source.tokens -= 1
        return True


def _engine_headers() -> bytes:
    return (
        f"Api-Version: {API_VERSION}\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
        f"Server: Docker/{ENGINE_VERSION} (linux)\r\nDate: {formatdate(usegmt=True)}\r\n"
    ).encode()


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n".encode()


def _body_bytes(answer: Answer) -> bytes:
    if isinstance(answer.body, bytes):
        return answer.body
    return json.dumps(answer.body).encode() + b"\n"


def _error_body(message: str) -> bytes:
    return json.dumps({"message": message}).encode() + b"\n"


def _head(
    status: int, body: bytes, close: bool = False, content_type: str = "application/json"
) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    length = "" if status in (204, 304) else f"Content-Length: {len(body)}\r\n"
    head = (
        _status_line(status)
        + _engine_headers()
        + f"Content-Type: {content_type}\r\n{length}{extra}\r\n".encode()
    )
    return head + (b"" if status in (204, 304) else body)
