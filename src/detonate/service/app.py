"""`create_app(settings, store, queue)`: the ASGI app `detonate serve` runs under uvicorn.

Routers of the service's other entry points are mounted when their module exists (each module
exposes `router: fastapi.APIRouter`); they reach the store, queue and settings through
`request.app.state`, and ask for scans with `detonate.service.scans.request_and_queue`.
"""

from __future__ import annotations

import importlib
import importlib.util

from fastapi import Depends, FastAPI

from detonate import __version__
from detonate.queue import ScanQueue
from detonate.service import api, errors, health
from detonate.service.auth import require_token
from detonate.service.scan_credentials import ScanCredentials
from detonate.service.scans import Resolver
from detonate.service.settings import Settings
from detonate.store import Store

# Mounted when present. Each guards itself (webhook secrets, admission TLS), not with tokens.
OPTIONAL_ROUTERS = (
    "detonate.service.hooks",  # /hooks/{distribution,harbor,ghcr,dockerhub}
    "detonate.service.harbor",  # Harbor pluggable scanner API
    "detonate.admission.webhook",  # /k8s/validate
    "detonate.service.dashboard",  # server-rendered pages
)


def create_app(
    settings: Settings,
    store: Store,
    queue: ScanQueue,
    scan_credentials: ScanCredentials | None = None,
) -> FastAPI:
    """`scan_credentials`: where per-scan pull credentials (Harbor's) go for the queue's
    workers to take; None when the workers cannot (Celery): they pull with their own."""
    app = FastAPI(
        title="detonate",
        version=__version__,
        description="Dynamic threat analysis of container images, as a service.",
        docs_url=None,  # the interactive docs load scripts from a CDN; /openapi.json stays
        redoc_url=None,
    )
    app.state.settings, app.state.store, app.state.queue = settings, store, queue
    app.state.scan_credentials = scan_credentials
    app.state.resolver = Resolver(settings.resolve_timeout_seconds, settings.registry_tls_verify)
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(api.router, dependencies=[Depends(require_token)])
    for name in OPTIONAL_ROUTERS:
        if _exists(name):
            app.include_router(importlib.import_module(name).router)
    return app


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False
