"""The simulator's HTTP/1.x server (requests recorded, stand-in payloads served).

Contract: returns or raises Closed; each answer starts with an HTTP/1.1 status line.
"""

from __future__ import annotations

from collections.abc import Iterator

from fuzz_harness import check
from fuzz_netsim_stream import converse

from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.http import serve_http

TIME_BOUND = 5.0
RECORD_BYTES = NetsimConfig().record_bytes  # as the simulator runs
RULES = (("/cfg/*", "json"), ("*.bin", "elf"))  # as a netsim config may set them


def seeds() -> Iterator[bytes]:
    yield b"GET /p.sh HTTP/1.1\r\nHost: x.test\r\nUser-Agent: Wget/1.21\r\n\r\n"
    yield b"HEAD /xmrig HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    yield b"POST /up HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    yield b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\n"


async def _serve(stream, flow, recorder) -> None:  # type: ignore[no-untyped-def]
    await serve_http(stream, flow, recorder, RULES, RECORD_BYTES)


def fuzz(data: bytes) -> None:
    sent, _ = converse(_serve, data)
    check(not sent or sent.startswith(b"HTTP/1.1 "), f"answer {sent[:40]!r}")
