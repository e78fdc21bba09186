"""A real `redis-server` (Debian's package) and real `detonate worker` processes for the fleet's
tests, started here on 127.0.0.1 with free ports and temporary directories; the store is a
real PostgreSQL (tests/postgres.py).

    def test_x(redis_server, fleet):
        worker = fleet.start_worker()          # `detonate worker` as a subprocess
        record = fleet.queue_sample(built_samples["benign-web"])
        fleet.wait_done(record.id)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from detonate.acquire.resolve import resolve
from detonate.factory import BuiltSample
from detonate.model.options import AcquireOptions
from detonate.store import ScanRecord, Source, Store
from detonate.worker import CeleryQueue

DETONATE = Path(sys.executable).parent / "detonate"
RUN_TIMEOUT_SECONDS = 6  # the sandbox run of each sample: small, to keep the CPU for others


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # Append-only file, fsync'd per write: what a broker that must not lose tasks needs
        # (deploy/fleet/redis.yaml runs it the same way).
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--protected-mode", "yes", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start: {self.directory / 'redis.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis flushes the append-only file and exits
            self.process.wait(10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; scripts/setup.sh installs it")
        pytest.skip(reason)
    server = RedisServer(_free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def pool_children(self) -> list[int]:
        """The pool processes (each runs one scan, then is replaced)."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown of our own group
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@dataclass
class Fleet:
    redis: RedisServer
    db_url: str
    workdir: Path
    store: Store
    queue: CeleryQueue
    workers: list[Worker] = field(default_factory=list)

    def start_worker(
        self, name: str = "", timeout: int = RUN_TIMEOUT_SECONDS, extra: tuple[str, ...] = ()
    ) -> Worker:
        number = len(self.workers)
        log = self.workdir / f"worker-{number}.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
            [str(DETONATE), "worker", "--queue", self.redis.url, "--db", self.db_url,
             "--cache-dir", str(self.workdir / f"cache-{number}"), "--concurrency", "1",
             "--timeout", str(timeout), "--name", name or f"w{number}@%h", *extra],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        worker = Worker(process, log)
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in log.read_bytes():
                return worker
            if process.poll() is not None:
                raise AssertionError(f"worker exited {process.returncode}:\n{log.read_text()}")
            time.sleep(0.1)
        raise AssertionError(f"worker not ready in 60 s:\n{log.read_text()}")

    def request(
        self, sample: BuiltSample, source: Source = Source.API, profile: str = "full"
    ) -> ScanRecord:
        resolved = resolve(sample.archive_reference, AcquireOptions())
        record, _ = self.store.request_scan(
            sample.archive_reference,
            digest=resolved.digest,
            platform=resolved.platform,
            source=source,
            profile=profile,
        )
        return record

    def queue_reference(self, reference: str, profile: str = "full") -> ScanRecord:
        """A scan of an image in a test's plain-HTTP registry, queued as an API scan."""
        resolved = resolve(reference, AcquireOptions(tls_verify=False))
        record, _ = self.store.request_scan(
            reference, digest=resolved.digest, platform=resolved.platform,
            source=Source.API, profile=profile,
        )  # fmt: skip
        self.queue.submit(record.id, record.priority)
        return record

    def queue_sample(
        self, sample: BuiltSample, source: Source = Source.API, profile: str = "full"
    ) -> ScanRecord:
        record = self.request(sample, source, profile)
        self.queue.submit(record.id, record.priority)
        return record

    def wait_for(self, scan_id: str, timeout: float = 180) -> ScanRecord:
        deadline = time.monotonic() + timeout
        record = None
        while time.monotonic() < deadline:
            record = self.store.get_scan(scan_id)
            if record is not None and not record.active:
                return record
            time.sleep(0.2)
        logs = "\n".join(w.log.read_text()[-3000:] for w in self.workers)
        raise AssertionError(f"scan {scan_id} not finished in {timeout} s: {record}\n{logs}")


@pytest.fixture
def fleet(redis_server, postgres_server, tmp_path: Path) -> Iterator[Fleet]:
    db_url = postgres_server.new_database()
    store = Store.open(db_url)
    queue = CeleryQueue(store, redis_server.url)
    made = Fleet(redis_server, db_url, tmp_path, store, queue)
    yield made
    for worker in made.workers:
        worker.stop()
    queue.close()
    store.close()
