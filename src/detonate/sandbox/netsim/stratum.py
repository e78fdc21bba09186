"""A mining pool that keeps a miner talking: xmrig's login/job/submit and Bitcoin's mining.*.

Newline-delimited JSON-RPC, e.g. from xmrig:
    {"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4AbC….rig1","pass":"x",
     "agent":"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","algo":["rx/0","cn/r"]}}
A new job (with a new job_id: a repeated one makes xmrig reconnect) is pushed periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
from typing import Any

from detonate.sandbox.netsim.recorder import Flow, Recorder
from detonate.sandbox.netsim.stream import Closed, Stream

DONATION_HOSTS = ("donate.v2.xmrig.com", "donate.ssl.xmrig.com", "donate.xmrig.com")
MAX_LINE = 64 * 1024
_job_numbers = itertools.count(1)


def looks_like_stratum(data: bytes) -> bool:
    return data.lstrip()[:1] == b"{" and b'"method"' in data


def split_login(login: str) -> tuple[str, str]:
    """("WALLET", "rig1") from "WALLET.rig1" or "WALLET+50000.rig1" (difficulty suffix)."""
    wallet = re.split(r"[.+/]", login, maxsplit=1)[0]
    worker = ""
    rest = login[len(wallet) :]
    if "." in rest:
        worker = rest.split(".", 1)[1]
    return wallet, worker


class Pool:
    def __init__(self, stream: Stream, flow: Flow, recorder: Recorder, job_seconds: float) -> None:
        self.stream = stream
        self.flow = flow
        self.recorder = recorder
        self.job_seconds = job_seconds
        self.dialect = ""
        self.wallet = ""
        self.jobs_sent = 0
        self.shares = 0
        self.started = time.monotonic()
        self._pusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        try:
            while True:
                line = await self.stream.readline(MAX_LINE)
                if line.strip():
                    await self._handle(line)
        finally:
            if self._pusher is not None:
                self._pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Closed):
                    await self._pusher
            if self.dialect:
                self.recorder.emit(
                    "stratum_session_ended",
                    self.flow,
                    wallet=self.wallet,
                    jobs_sent=self.jobs_sent,
                    shares=self.shares,
                    seconds=round(time.monotonic() - self.started, 3),
                )

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._lock:
            await self.stream.send(json.dumps(message).encode() + b"\n")

    async def _reply(self, request_id: Any, result: Any) -> None:
        await self._send({"id": request_id, "jsonrpc": "2.0", "error": None, "result": result})

    async def _handle(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # "[[[[…": nested past the decoder's depth
            return
        if not isinstance(message, dict):
            return
        method = str(message.get("method", ""))
        params = message.get("params")
        request_id = message.get("id")
        if method == "login" and isinstance(params, dict):
            self._login_xmrig(params)
            result = {
                "id": secrets.token_hex(8),
                "job": self._xmrig_job(),
                "extensions": ["algo", "nicehash", "keepalive"],
                "status": "OK",
            }
            await self._reply(request_id, result)
            self._start_pushing()
        elif method == "getjob":
            await self._reply(request_id, self._xmrig_job())
        elif method in ("submit", "mining.submit"):
            self.shares += 1
            await self._reply(request_id, {"status": "OK"} if method == "submit" else True)
        elif method == "keepalived":
            await self._reply(request_id, {"status": "KEEPALIVED"})
        elif method == "mining.subscribe":
            self.dialect = self.dialect or "bitcoin"
            subscriptions = [["mining.set_difficulty", "1"], ["mining.notify", "1"]]
            await self._reply(request_id, [subscriptions, secrets.token_hex(4), 4])
        elif method == "mining.authorize" and isinstance(params, list):
            self._login_bitcoin(params)
            await self._reply(request_id, True)
            await self._send({"id": None, "method": "mining.set_difficulty", "params": [1]})
            await self._push()
            self._start_pushing()
        elif method in ("mining.configure",):
            await self._reply(request_id, {})
        else:  # mining.extranonce.subscribe, mining.suggest_difficulty, …: agree
            await self._reply(request_id, True)

    def _login_xmrig(self, params: dict[str, Any]) -> None:
        self.dialect = "xmrig"
        algos = params.get("algo") or []
        self._emit_login(
            login=str(params.get("login", "")),
            password=str(params.get("pass", "")),
            agent=str(params.get("agent", "")),
            rig_id=str(params.get("rigid", "")),
            algos=[str(a) for a in algos][:32] if isinstance(algos, list) else [str(algos)],
        )

    def _login_bitcoin(self, params: list[Any]) -> None:
        self.dialect = "bitcoin"
        login = str(params[0]) if params else ""
        password = str(params[1]) if len(params) > 1 else ""
        self._emit_login(login=login, password=password, agent="", rig_id="", algos=[])

    def _emit_login(self, login: str, **fields: Any) -> None:
        wallet, worker = split_login(login)
        self.wallet = wallet
        host = (self.flow.sni or self.flow.domain).lower()
        self.recorder.emit(
            "stratum_login",
            self.flow,
            dialect=self.dialect,
            login=login,
            wallet=wallet,
            worker=worker,
            tls=self.flow.tls,
            sni=self.flow.sni,
            donation=host in DONATION_HOSTS,
            **fields,
        )

    def _xmrig_job(self) -> dict[str, Any]:
        self.jobs_sent += 1
        return {
            "blob": "0707" + secrets.token_hex(74),
            "job_id": f"{next(_job_numbers):08x}{secrets.token_hex(4)}",
            "target": "b88d0600",
            "height": 3_100_000 + self.jobs_sent,
            "seed_hash": secrets.token_hex(32),
            "algo": "rx/0",
        }

    async def _push(self) -> None:
        if self.dialect == "xmrig":
            await self._send({"jsonrpc": "2.0", "method": "job", "params": self._xmrig_job()})
            return
        self.jobs_sent += 1
        job_id = f"{next(_job_numbers):x}"
        notify: list[Any] = [
            job_id,
            secrets.token_hex(32),
            secrets.token_hex(48),
            secrets.token_hex(24),
        ]
        notify += [[], "20000000", "1d00ffff", f"{int(time.time()):08x}", True]
        await self._send({"id": None, "method": "mining.notify", "params": notify})

    def _start_pushing(self) -> None:
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push_forever())

    async def _push_forever(self) -> None:
        with contextlib.suppress(Closed):
            while True:
                await asyncio.sleep(self.job_seconds)
                await self._push()


async def serve_stratum(stream: Stream, flow: Flow, recorder: Recorder, job_seconds: float) -> None:
    await Pool(stream, flow, recorder, job_seconds).run()
