"""The honeypot's writes and reads in the store: sessions, requests, deployments.

    book = SessionBook(store, honeypot="hp-eu-1", window=timedelta(hours=1))
    ids = book.record_requests([("203.0.113.7", RecordedRequest(...)), …])   # session ids
    book.record_deployment(session_id, deployment, decoded, profile, scan_id)

A session is new after `window` of silence from its source. Every method is one short
transaction on the store's engine (writes take SQLite's write lock up front, as the store's
own do); a batch of requests is one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from detonate.honeypot.daemon import Deployment
from detonate.store import Store
from detonate.store.honeypot_models import (
    HoneypotDeployment,
    HoneypotRequest,
    HoneypotSession,
    HoneypotStart,
)

RECENT_SOURCES = 10_000  # sources whose session id is remembered (the rest are looked up)
CountryLookup = Callable[[str], str]  # address → ISO code, "" when unknown (see geo.py)


@dataclass(frozen=True)
class RecordedRequest:
    at: datetime
    source_port: int
    local_port: int
    method: str
    path: str
    query: str
    api_version: str
    operation: str
    headers: list[tuple[str, str]]
    body: str
    body_encoding: str
    body_size: int
    body_truncated: bool
    status: int


class SessionBook:
    def __init__(
        self, store: Store, honeypot: str, window: timedelta, country_of: CountryLookup
    ) -> None:
        self.store, self.honeypot, self.window, self.country_of = (
            store,
            honeypot,
            window,
            country_of,
        )
        self._writer = store.engine.execution_options(detonate_write=True)
        self._recent: dict[str, tuple[str, datetime]] = {}  # source → (session id, last seen)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    def record_start(self, ports: str) -> None:
        with self._write() as session:
            session.add(
                HoneypotStart(honeypot=self.honeypot, started_at=datetime.now(UTC), ports=ports)
            )

    def _session_in(self, session: Session, source_ip: str, at: datetime) -> str:
        """The source's session unless it was silent longer than the window (then a new one)."""
        cached = self._recent.get(source_ip)
        if cached is not None and at - cached[1] <= self.window:
            self._recent[source_ip] = (cached[0], at)
            return cached[0]
        row = session.scalars(
            select(HoneypotSession)
            .where(
                HoneypotSession.honeypot == self.honeypot,
                HoneypotSession.source_ip == source_ip,
                HoneypotSession.last_seen >= at - self.window,
            )
            .order_by(HoneypotSession.last_seen.desc())
            .limit(1)
        ).first()
        if row is None:
            row = HoneypotSession(
                id=str(uuid.uuid4()),
                honeypot=self.honeypot,
                source_ip=source_ip,
                country=self.country_of(source_ip),
                first_seen=at,
                last_seen=at,
                requests=0,
                evidence_json="[]",
            )
            session.add(row)
            session.flush()
        self._recent[source_ip] = (row.id, at)
        if len(self._recent) > RECENT_SOURCES:
            self._recent.pop(next(iter(self._recent)))
        return row.id

    def record_requests(self, batch: list[tuple[str, RecordedRequest]]) -> list[str]:
        """Record (source address, request) pairs in one transaction; their session ids."""
        session_ids = []
        seen: dict[str, tuple[datetime, int]] = {}
        with self._write() as session:
            for source_ip, request in batch:
                session_id = self._session_in(session, source_ip, request.at)
                session_ids.append(session_id)
                last, count = seen.get(session_id, (request.at, 0))
                seen[session_id] = (max(last, request.at), count + 1)
                session.add(_request_row(session_id, request))
            for session_id, (last, count) in seen.items():
                session.execute(
                    update(HoneypotSession)
                    .where(HoneypotSession.id == session_id)
                    .values(last_seen=last, requests=HoneypotSession.requests + count)
                )
        return session_ids

    def record_deployment(
        self,
        session_id: str,
        deployment: Deployment,
        decoded: tuple[str, ...],
        profile: str,
        scan_id: str | None,
    ) -> None:
        at = datetime.now(UTC)
        with self._write() as session:
            session.add(
                HoneypotDeployment(
                    session_id=session_id,
                    at=at,
                    kind=deployment.kind,
                    container_id=deployment.container_id,
                    image=deployment.image[:1024],
                    config_json=json.dumps(deployment.config()),
                    escape_intent_json=json.dumps(deployment.escape_intent()),
                    decoded_json=json.dumps(list(decoded)),
                    profile=profile,
                    scan_id=scan_id,
                )
            )
            row = session.get(HoneypotSession, session_id)
            if row is not None:
                evidence = json.loads(row.evidence_json)
                for text in decoded:
                    evidence.append({"kind": "decoded-base64", "text": text})
                for intent in deployment.escape_intent():
                    evidence.append({"kind": "escape-intent", "text": intent})
                row.evidence_json = json.dumps(evidence)


def _request_row(session_id: str, request: RecordedRequest) -> HoneypotRequest:
    return HoneypotRequest(
        session_id=session_id,
        at=request.at,
        source_port=request.source_port,
        local_port=request.local_port,
        method=request.method[:16],
        path=request.path[:2048],
        query=request.query,
        api_version=request.api_version[:8],
        operation=request.operation,
        headers_json=json.dumps([list(pair) for pair in request.headers]),
        body=request.body,
        body_encoding=request.body_encoding,
        body_size=request.body_size,
        body_truncated=request.body_truncated,
        status=request.status,
    )


def deployment_config(store: Store, scan_id: str) -> dict[str, object] | None:
    """The container config of the deployment that queued `scan_id` (None: not a honeypot's)."""
    with Session(store.engine) as session:
        row = session.scalars(
            select(HoneypotDeployment)
            .where(HoneypotDeployment.scan_id == scan_id)
            .order_by(HoneypotDeployment.id)
            .limit(1)
        ).first()
        if row is None:
            return None
        config: dict[str, object] = json.loads(row.config_json)
        return config
