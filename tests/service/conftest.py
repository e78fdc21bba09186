"""The service app over a real store (SQLite in a temp dir) for router tests.

The queue here only records what it is given: these tests look at what the webhooks, Harbor and
admission ask for. Real scans run in the end-to-end tests (tests/service/test_end_to_end.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from detonate.service.app import create_app
from detonate.service.settings import Settings
from detonate.store import Store

SECRET = "test-only-hook-secret"
HOOK_SECRETS = {sender: SECRET for sender in ("distribution", "harbor", "ghcr", "dockerhub")}


class RecordingQueue:
    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, scan_id: str, priority: int = 0) -> None:
        self.submitted.append(scan_id)

    def cancel(self, scan_id: str) -> bool:
        return False

    def depth(self) -> int:
        return len(self.submitted)

    def running(self) -> int:
        return 0

    def close(self) -> None:
        pass


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def make_client(
    store: Store, queue: RecordingQueue, tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        base = Settings(
            cache_dir=tmp_path / "cache",
            registry_tls_verify=False,
            hook_secrets=dict(HOOK_SECRETS),
            resolve_timeout_seconds=5,
        )
        app = create_app(replace(base, **settings), store, queue)  # type: ignore[arg-type]
        client = TestClient(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        intake = getattr(client.app.state, "push_intake", None)  # type: ignore[attr-defined]
        if intake is not None:
            intake.close()
        client.close()
