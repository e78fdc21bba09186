"""The simulator's mining pool: newline-delimited JSON-RPC (xmrig and Bitcoin dialects).

Contract: returns or raises Closed; every answer line is JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fuzz_harness import check
from fuzz_netsim_stream import converse

from detonate.sandbox.netsim.stratum import serve_stratum, split_login

TIME_BOUND = 5.0


def _lines(*messages: object) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def seeds() -> Iterator[bytes]:
    login = {
        "login": "4FAKEWALLETxxxxxxxxxxxxxxxxxxxx.rig7",
        "pass": "x",
        "rigid": "rig-7",
        "agent": "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0",
        "algo": ["rx/0", "cn/r"],
    }
    yield _lines(
        {"id": 1, "jsonrpc": "2.0", "method": "login", "params": login},
        {"id": 2, "method": "submit", "params": {"id": "x", "job_id": "1", "nonce": "00"}},
        {"id": 3, "method": "keepalived"},
    )
    yield _lines(
        {"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5"]},
        {"id": 2, "method": "mining.authorize", "params": ["bc1qfake.worker1", "x"]},
        {"id": 3, "method": "mining.submit", "params": ["bc1qfake.worker1", "1", "00"]},
    )


async def _serve(stream, flow, recorder) -> None:  # type: ignore[no-untyped-def]
    await serve_stratum(stream, flow, recorder, job_seconds=30.0)


def fuzz(data: bytes) -> None:
    sent, _ = converse(_serve, data, dst_port=3333)
    for line in sent.splitlines():
        check(isinstance(json.loads(line), dict), f"answer {line[:40]!r}")
    wallet, worker = split_login(data.decode("utf-8", "replace"))
    check(isinstance(wallet, str) and isinstance(worker, str), "split_login")
