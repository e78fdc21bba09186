"""`detonate serve`: open the store, start the workers, resume unfinished scans, run uvicorn.

    detonate serve --host 127.0.0.1 --port 8443 --tls-cert cert.pem --tls-key key.pem \\
                   --db postgresql://detonate@db/detonate --concurrency 1
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from detonate.errors import UsageError
from detonate.queue import InProcessQueue, ScanQueue
from detonate.sandbox.session import keep_simulators_ahead
from detonate.service.app import create_app
from detonate.service.malloc_arenas import cap_malloc_arenas
from detonate.service.memory_trace import trace_if_asked
from detonate.service.metrics import SCAN_SECONDS
from detonate.service.scan_credentials import ScanCredentials
from detonate.service.settings import Settings
from detonate.store import ScanRecord, Store
from detonate.store.background_rejudge import BackgroundRejudge, BackgroundSettings, start
from detonate.worker.celery_queue import CeleryQueue

log = logging.getLogger("detonate.service")


@dataclass
class Service:
    settings: Settings
    store: Store
    queue: ScanQueue
    app: FastAPI


def _observe(record: ScanRecord, seconds: float) -> None:
    SCAN_SECONDS.labels(record.profile, record.status.value).observe(seconds)


@contextmanager
def running_service(settings: Settings) -> Iterator[Service]:
    """Store open, workers started and resumed; closed in order on exit."""
    _check_tls(settings)
    store = Store.open(settings.store_url, rules_dir=settings.scan.static.extra_rules_dir)
    scan_options = settings.scan
    queue: InProcessQueue | CeleryQueue
    # Per-scan pull credentials stay in this process: only its own workers can use them.
    credentials: ScanCredentials | None = None
    if settings.queue_url:
        queue = CeleryQueue(store, settings.queue_url)
    else:
        credentials = ScanCredentials()
        keep_simulators_ahead()  # scan after scan in this process: the next run's starts early
        queue = InProcessQueue(
            store, scan_options, settings.concurrency or None, _observe, credentials.acquire_for
        )
    rejudging: BackgroundRejudge | None = None
    try:
        requeued, poisoned = queue.resume()
        if requeued or poisoned:
            log.info("resumed %d scans, poisoned %d", requeued, poisoned)
        if settings.background_rejudge and not settings.queue_url:
            rejudging = start(store, _rejudge_settings(settings), "serve")
        yield Service(settings, store, queue, create_app(settings, store, queue, credentials))
    finally:
        if rejudging is not None:
            rejudging.stop()
        queue.close()
        store.close()


def _rejudge_settings(settings: Settings) -> BackgroundSettings:
    return BackgroundSettings(
        settings.store_url,
        rules_dir=settings.scan.static.extra_rules_dir,
        ignore_file=settings.scan.ignore_file,
        per_second=settings.rejudge_per_second,
    )


def uvicorn_config(
    service: Service, log_level: str = "info", access_log: bool = True
) -> uvicorn.Config:
    settings = service.settings
    return uvicorn.Config(
        service.app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        log_level=log_level,
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=5,
        limit_concurrency=512,  # beyond this, 503 instead of an unbounded backlog
    )


def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM (uvicorn's handlers), then stop the workers and the store."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not settings.tls_cert and not ipaddress_is_loopback(settings.host):
        log.warning(
            "serving plain HTTP on %s: tokens cross the network in the clear; "
            "give --tls-cert/--tls-key or stay on 127.0.0.1 behind a TLS proxy",
            settings.host,
        )
    cap_malloc_arenas()  # before any thread: a long-lived service's memory levels off
    if trace_if_asked():  # DETONATE_TRACEMALLOC=DIR: snapshots on SIGUSR2
        log.warning("tracing memory allocations (slower): snapshots on SIGUSR2")
    with running_service(settings) as service:
        uvicorn.Server(uvicorn_config(service)).run()


def ipaddress_is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_tls(settings: Settings) -> None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise UsageError("--tls-cert and --tls-key go together", "give both, or neither")
    if settings.tls_cert and settings.tls_key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
        except (OSError, ssl.SSLError) as error:
            raise UsageError(
                f"cannot use {settings.tls_cert} and {settings.tls_key}: {error}",
                "give a PEM certificate (chain) and its PEM private key",
            ) from None
