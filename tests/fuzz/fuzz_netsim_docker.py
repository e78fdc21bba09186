"""The simulator's Docker Engine API (on the HTTP reader): scanners' calls recorded, answered.

Contract: returns or raises Closed; answers are HTTP/1.1 responses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fuzz_harness import check
from fuzz_netsim_stream import converse

from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.dockerapi import serve_docker

TIME_BOUND = 5.0
RECORD_BYTES = NetsimConfig().record_bytes  # as the simulator runs


def _post(path: str, body: object) -> bytes:
    data = json.dumps(body).encode()
    return f"POST {path} HTTP/1.1\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data


def seeds() -> Iterator[bytes]:
    yield b"GET /_ping HTTP/1.1\r\n\r\nGET /v1.43/version HTTP/1.1\r\n\r\n"
    yield b"POST /v1.43/images/create?fromImage=alpine&tag=latest HTTP/1.1\r\n\r\n"
    yield _post(
        "/v1.43/containers/create?name=x",
        {
            "Image": "alpine",
            "Cmd": ["sh", "-c", "id"],
            "HostConfig": {"Privileged": True, "Binds": ["/:/host"]},
        },
    )
    yield _post("/v1.43/containers/abc/exec", {"Cmd": ["chroot", "/host", "sh"]})
    yield b"POST /v1.43/exec/e1/start HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"


async def _serve(stream, flow, recorder) -> None:  # type: ignore[no-untyped-def]
    await serve_docker(stream, flow, recorder, RECORD_BYTES)


def fuzz(data: bytes) -> None:
    sent, _ = converse(_serve, data, dst_port=2375)
    check(not sent or sent.startswith(b"HTTP/1.1 "), f"answer {sent[:40]!r}")
