"""`detonate serve` for real: uvicorn on 127.0.0.1 with TLS (a throwaway certificate) in a
thread of the test process, its workers, and a store on SQLite or PostgreSQL.

    with live_service(tmp_path, tls, db_url) as live:
        live.client().post("/api/v1/scans", json={...})
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from detonate.model.options import ScanOptions
from detonate.service.serve import Service, running_service, uvicorn_config
from detonate.service.settings import Settings
from detonate.store import ScanRecord


@dataclass(frozen=True)
class TlsPair:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_tls_pair(directory: Path) -> TlsPair:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "detonate test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pair = TlsPair(directory / "cert.pem", directory / "key.pem")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pair


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveService:
    service: Service
    base_url: str
    tls: TlsPair
    token: str
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def store(self) -> Any:
        return self.service.store

    def client(self, token: str | None = None, **extra: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if token == "":
            headers = {}
        client = httpx.Client(
            base_url=self.base_url,
            verify=self.tls.client_context(),
            headers=headers,
            timeout=60,
            **extra,
        )
        self._clients.append(client)
        return client

    def wait(self, scan_id: str, timeout: float = 180) -> ScanRecord:
        deadline = time.monotonic() + timeout
        record = None
        while time.monotonic() < deadline:
            record = self.store.get_scan(scan_id)
            if record is not None and not record.active:
                return record  # type: ignore[no-any-return]
            time.sleep(0.2)
        raise AssertionError(f"scan {scan_id} did not finish within {timeout} s: {record}")


@contextmanager
def live_service(
    workdir: Path, tls: TlsPair, db_url: str = "", **settings: Any
) -> Iterator[LiveService]:
    cache = workdir / "cache"
    base = Settings(
        cache_dir=cache,
        db_url=db_url,
        host="127.0.0.1",
        port=free_port(),
        tls_cert=tls.cert,
        tls_key=tls.key,
        concurrency=1,
        registry_tls_verify=False,  # the test registry speaks plain HTTP on 127.0.0.1
        scan=ScanOptions(cache_dir=cache),
    )
    chosen = replace(base, **settings)
    chosen = replace(
        chosen, scan=replace(chosen.scan, acquire=replace(chosen.scan.acquire, tls_verify=False))
    )
    with running_service(chosen) as service:
        server = uvicorn.Server(uvicorn_config(service, "warning", access_log=False))
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("uvicorn did not start")
            time.sleep(0.05)
        live = LiveService(
            service,
            f"https://127.0.0.1:{chosen.port}",
            tls,
            service.store.create_token("tests"),
        )
        try:
            yield live
        finally:
            for client in live._clients:
                client.close()
            server.should_exit = True
            thread.join(30)
