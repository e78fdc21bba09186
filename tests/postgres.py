"""A real PostgreSQL (Debian's `postgresql` package) for the store's tests, run by the tests.

The server is started from the package's binaries (/usr/lib/postgresql/N/bin) into a temporary
data directory, as the `postgres` user when we are root (initdb refuses root), listening on
127.0.0.1 and a free port; no system service is needed. Without the binaries the tests that
need it skip with the reason, except in CI (CI=true), where that is a failure.

    def test_x(postgres_server):
        url = postgres_server.new_database()   # "postgresql://detonate@127.0.0.1:PORT/db_3"
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "detonate"


def postgres_bin() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


@dataclass
class PostgresServer:
    port: int
    data: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    _names: Iterator[int] = field(default_factory=itertools.count, repr=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"db_{next(self._names)}"
        with psycopg.connect(self.url()) as conn:
            conn.autocommit = True
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> dict[str, str]:
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def start_postgres() -> PostgresServer:
    binaries = postgres_bin()
    if binaries is None:
        reason = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must have it: scripts/setup.sh installs it")
        pytest.skip(reason)
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="detonate-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    as_postgres = _as_postgres()
    if as_postgres:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    subprocess.run(
        [
            *(str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust"),
            *("-E", "UTF8", "--no-sync", "--no-instructions"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        **as_postgres,  # type: ignore[arg-type]
    )
    port = _free_port()
    log = (base / "server.log").open("wb")
    process = subprocess.Popen(
        [
            *(str(binaries / "postgres"), "-D", str(data), "-k", str(sockets)),
            *("-h", "127.0.0.1", "-p", str(port), "-c", "max_connections=200"),
            # a throwaway cluster: durability costs time and buys nothing here
            *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        **as_postgres,  # type: ignore[arg-type]
    )
    server = PostgresServer(port, data, process)
    deadline = time.monotonic() + 30
    while True:
        ready = subprocess.run(
            [str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", USER],
            capture_output=True,
        )
        if ready.returncode == 0:
            return server
        if process.poll() is not None or time.monotonic() > deadline:
            stop_postgres(server)
            pytest.fail(f"PostgreSQL did not start:\n{(base / 'server.log').read_text()}")
        time.sleep(0.1)


def stop_postgres(server: PostgresServer) -> None:
    server.process.send_signal(signal.SIGINT)  # "fast" shutdown: ends open sessions too
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    shutil.rmtree(server.data.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    stop_postgres(server)
