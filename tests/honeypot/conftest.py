"""A real `Honeypot` listening on free ports of 127.0.0.1, its event loop in a thread, over a
fresh store (SQLite, and a real PostgreSQL where the test asks for both)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detonate.honeypot.server import Honeypot, HoneypotSettings
from detonate.store import Store
from detonate.store.honeypot_models import HoneypotDeployment, HoneypotRequest, HoneypotSession


@dataclass
class LiveHoneypot:
    honeypot: Honeypot
    store: Store
    port: int
    tls_port: int | None
    loop: asyncio.AbstractEventLoop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def flush(self) -> None:
        """Wait for the honeypot's write-behind: what it answered is then in the store."""
        asyncio.run_coroutine_threadsafe(self.honeypot.flush(), self.loop).result(timeout=30)

    def sessions(self) -> list[HoneypotSession]:
        self.flush()
        with Session(self.store.engine) as session:
            return list(session.scalars(select(HoneypotSession)).all())

    def requests(self) -> list[HoneypotRequest]:
        self.flush()
        with Session(self.store.engine) as session:
            return list(session.scalars(select(HoneypotRequest).order_by(HoneypotRequest.id)))

    def deployments(self) -> list[HoneypotDeployment]:
        self.flush()
        with Session(self.store.engine) as session:
            return list(session.scalars(select(HoneypotDeployment).order_by(HoneypotDeployment.id)))

    def evidence(self, session_id: str) -> list[dict[str, Any]]:
        row = next(s for s in self.sessions() if s.id == session_id)
        return list(json.loads(row.evidence_json))


def tls_pair(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


async def _shutdown(honeypot: Honeypot) -> None:
    """Stop listening, then end the connections still open (a test's kept-alive client)."""
    await honeypot.stop()
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def start_honeypot(tmp_path: Path) -> Iterator[Callable[..., LiveHoneypot]]:
    started: list[tuple[LiveHoneypot, threading.Thread]] = []

    def start(store: Store | None = None, tls: bool = False, **settings: Any) -> LiveHoneypot:
        store = store or Store.open(f"sqlite:///{tmp_path / 'honeypot.db'}")
        config = HoneypotSettings(host="127.0.0.1", ports=(0,), tls_ports=(), **settings)
        if tls:
            cert, key = tls_pair(tmp_path)
            config = replace(config, tls_ports=(0,), tls_cert=cert, tls_key=key)
        honeypot = Honeypot(store, config)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        bound = asyncio.run_coroutine_threadsafe(honeypot.start(), loop).result(timeout=30)
        plain = next(port for _, port, is_tls in bound if not is_tls)
        tls_port = next((port for _, port, is_tls in bound if is_tls), None)
        live = LiveHoneypot(honeypot, store, plain, tls_port, loop)
        started.append((live, thread))
        return live

    yield start
    for live, thread in started:
        asyncio.run_coroutine_threadsafe(_shutdown(live.honeypot), live.loop).result(timeout=30)
        live.loop.call_soon_threadsafe(live.loop.stop)
        thread.join(timeout=10)
        live.loop.close()
        live.store.close()
