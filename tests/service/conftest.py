"""Fixtures of the service tests.

serve(db_url="", **settings)   a live `detonate serve` over HTTPS (tests/service/live.py)
make_client(**settings)        the app in-process over a real store (SQLite in a temp dir),
                               with a queue that only records what it is given: the
                               webhook, Harbor and admission tests look at what is asked;
                               real scans run in test_end_to_end.py and the API tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from detonate.service.app import create_app
from detonate.service.settings import Settings
from detonate.store import Store

from .live import LiveService, TlsPair, live_service, make_tls_pair


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsPair:
    return make_tls_pair(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def serve(tmp_path: Path, tls: TlsPair) -> Iterator[Callable[..., LiveService]]:
    """serve(db_url="", **settings) → a running service; stopped after the test."""
    with ExitStack() as stack:

        def start(db_url: str = "", **settings: Any) -> LiveService:
            workdir = tmp_path / f"service-{len(stack._exit_callbacks)}"
            return stack.enter_context(live_service(workdir, tls, db_url, **settings))

        yield start


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """ "" (the default SQLite in the cache dir) or a fresh database on a real PostgreSQL."""
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("postgres_server").new_database())


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
