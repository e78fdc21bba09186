from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

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
