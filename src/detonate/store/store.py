"""`Store`: scans, images, tags, verdicts, admission decisions and tokens in one SQL database.

    store = Store.open("sqlite:////var/lib/detonate/detonate.db")   # or postgresql://…
    scan, created = store.request_scan("docker://registry.test/app:1", digest="sha256:…",
                                       platform="linux/amd64", source=Source.API)
    store.record_report(scan.id, report)
    store.verdict_for("sha256:…", "linux/amd64")   # → VerdictRecord | None

SQLite runs in WAL mode with `BEGIN IMMEDIATE` for writes (concurrent writers queue on the
busy timeout instead of failing half-way); PostgreSQL needs nothing special. Every method is
one short transaction, safe to call from many threads.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    String,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import URL, Row, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from detonate import __version__
from detonate.errors import StoreError
from detonate.model.findings import Confidence, Finding, Severity
from detonate.model.report import Report
from detonate.report import json_report
from detonate.rules.loader import ruleset_hash
from detonate.store import rejudge_claims, run_records, schema
from detonate.store.models import (
    AdmissionDecision,
    Artifact,
    FindingRow,
    Image,
    Ioc,
    Judgement,
    Scan,
    ScanArtifact,
    ScanIoc,
    TagObservation,
    Token,
)
from detonate.store.records import (
    ACTIVE,
    AdmissionRecord,
    CacheKey,
    JudgementRecord,
    RejudgeCandidate,
    RejudgeProgress,
    ScanRecord,
    ScanStatus,
    Source,
    StoredRun,
    TagRecord,
    VerdictRecord,
)

MAX_ATTEMPTS = 3  # a scan whose worker died this often is poisoned, not retried
SQLITE_BUSY_SECONDS = 30
IOC_MAX = 2048
SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}
CONFIDENCE_RANK = {c: i for i, c in enumerate(Confidence)}
IOC_KINDS = (
    ("domain", "domains"),
    ("ip", "ips"),
    ("url", "urls"),
    ("wallet", "wallets"),
    ("pool", "pools"),
    ("sha256", "file_hashes"),
)


# The latest done scan of a digest (or of a manifest list's digest) on a platform. Built once:
# building a statement costs more than running it on the index.
VERDICT_QUERY = (
    select(
        Scan.digest,
        Scan.platform,
        Scan.verdict,
        Scan.score,
        Scan.deciding_rule,
        Scan.deciding_title,
        Scan.id,
        Scan.finished_at,
        Scan.judged_ruleset_hash,
        Scan.rejudged_at,
    )
    .where(
        Scan.platform == bindparam("platform"),
        Scan.status == ScanStatus.DONE.value,
        Scan.verdict.is_not(None),
        Scan.verdict != "error",
        # the digest itself, or the platform image a manifest list of that digest named:
        # equality probes on ix_scans_verdict_lookup either way
        Scan.digest.in_(
            union_all(
                select(bindparam("digest", type_=String)),
                select(Image.digest).where(
                    Image.index_digest == bindparam("digest"),
                    Image.platform == bindparam("platform"),
                ),
            )
        ),
    )
    .order_by(Scan.finished_at.desc())
    .limit(1)
)


SCAN_BY_KEY = select(Scan.__table__).where(Scan.cache_key == bindparam("cache_key"))
SCAN_BY_ID = select(Scan.__table__).where(Scan.id == bindparam("id"))
TOKEN_QUERY = select(Token.token_hash).where(Token.token_hash == bindparam("token_hash"))


def default_url(cache_dir: Path) -> str:
    return f"sqlite:///{cache_dir / 'detonate.db'}"


def now() -> datetime:
    return datetime.now(UTC)


def cache_key_hash(key: CacheKey) -> str:
    text = "\n".join((key.digest, key.platform, key.tool_version, key.ruleset_hash, key.profile))
    return hashlib.sha256(text.encode()).hexdigest()


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class ScanFilter:
    verdict: str | None = None
    status: ScanStatus | None = None
    image: str | None = None  # a digest, or part of a reference
    since: datetime | None = None
    limit: int = 50


class Store:
    def __init__(self, engine: Engine, rules_dir: Path | None = None) -> None:
        self.engine = engine
        # The extra rules this store's scans are judged with (`serve --rules`): part of the
        # cache key of a scan requested here, so a scan judged by other rules is not reused.
        self.rules_dir = rules_dir
        # SQLite: writes take the write lock up front (see module doc); reads stay deferred.
        self._writer = engine.execution_options(detonate_write=True)

    @classmethod
    def open(cls, url: str, upgrade: bool = True, *, rules_dir: Path | None = None) -> Store:
        """Connect and upgrade the schema to the newest migration. `upgrade=False` only
        connects: for a process whose parent opened the store already (a fleet worker's fresh
        process per scan), where running the migrations' checks again costs 50–300 ms a scan.
        `rules_dir`: the extra rules the scans requested here are judged with."""
        try:
            parsed = make_url(_psycopg(url))
        except ArgumentError as error:
            raise StoreError(
                f"bad database URL {url!r}: {error}",
                "use sqlite:///PATH or postgresql://USER@HOST/DB",
            ) from None
        engine = _engine(parsed)
        try:
            if upgrade:
                schema.upgrade(engine)
            else:
                engine.connect().close()  # a database that is down fails here, as above
        except OperationalError as error:
            engine.dispose()
            raise StoreError(
                f"cannot open the store at {parsed.render_as_string(hide_password=True)}: "
                f"{error.orig}",
                "check the URL, that the database server runs and that the user may connect",
            ) from None
        return cls(engine, rules_dir)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    # -- scans -------------------------------------------------------------------------------

    def request_scan(
        self,
        reference: str,
        *,
        digest: str,
        platform: str,
        source: Source | str,
        profile: str = "full",
        priority: int = 0,
        index_digest: str = "",
        ruleset: str | None = None,
    ) -> tuple[ScanRecord, bool]:
        """The scan of this cache key, created queued when none exists: `(scan, created)`.

        A scan that is queued, running, done or poisoned is returned as it is (`created` False).
        One that failed is queued again (a fresh request is a retry), counting from zero
        attempts; a poisoned one is never retried automatically: a webhook flood must not
        restart a scan that keeps killing its worker.
        """
        ruleset = ruleset or ruleset_hash(self.rules_dir)
        key = CacheKey(digest, platform, __version__, ruleset, profile)
        key_hash = cache_key_hash(key)
        for _ in range(3):  # two requests may race to insert: the loser reads the winner's row
            existing = self._by_key(key_hash)
            if existing is not None:
                if existing.status is ScanStatus.FAILED:
                    return self._requeue(existing.id), True
                return existing, False
            try:
                with self._write() as session:
                    image = _image(session, digest, platform, index_digest)
                    scan = Scan(
                        id=str(uuid.uuid4()),
                        cache_key=key_hash,
                        image_id=image.id,
                        reference=reference[:1024],
                        digest=digest,
                        platform=platform,
                        tool_version=key.tool_version,
                        ruleset_hash=key.ruleset_hash,
                        profile=profile,
                        source=str(Source(source)),
                        priority=priority,
                        status=ScanStatus.QUEUED.value,
                        stage="",
                        attempts=0,
                        reason="",
                        created_at=now(),
                        deciding_rule="",
                        deciding_title="",
                    )
                    session.add(scan)
                    session.flush()
                    return _scan_record(scan), True
            except IntegrityError:
                continue
        raise StoreError(f"could not record the scan of {digest}", "retry the request")

    def _by_key(self, key_hash: str) -> ScanRecord | None:
        with self.engine.connect() as connection:  # a webhook flood asks this per event
            row = connection.execute(SCAN_BY_KEY, {"cache_key": key_hash}).first()
        return _scan_record(row) if row is not None else None

    def _requeue(self, scan_id: str) -> ScanRecord:
        with self._write() as session:
            scan = _get(session, scan_id)
            if scan.status == ScanStatus.FAILED.value:
                scan.status, scan.attempts, scan.reason, scan.stage = "queued", 0, "", ""
                scan.started_at = scan.finished_at = None
            return _scan_record(scan)

    def get_scan(self, scan_id: str) -> ScanRecord | None:
        with self.engine.connect() as connection:  # polled by clients and Harbor
            row = connection.execute(SCAN_BY_ID, {"id": scan_id}).first()
        return _scan_record(row) if row is not None else None

    def list_scans(
        self,
        where: ScanFilter | None = None,
        *,
        verdict: str | None = None,
        status: ScanStatus | None = None,
        image: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[ScanRecord]:
        """Newest first: `list_scans(ScanFilter(...))` or `list_scans(verdict="malicious")`."""
        where = where or ScanFilter(verdict, status, image, since, limit)
        query = select(Scan).order_by(Scan.created_at.desc(), Scan.id).limit(where.limit)
        if where.verdict:
            query = query.where(Scan.verdict == where.verdict)
        if where.status:
            query = query.where(Scan.status == where.status.value)
        if where.image:
            text = where.image.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(
                or_(Scan.digest == where.image, Scan.reference.like(f"%{text}%", escape="\\"))
            )
        if where.since:
            query = query.where(Scan.created_at >= _utc(where.since))
        with self._read() as session:
            return [_scan_record(scan) for scan in session.scalars(query)]

    def report_json(self, scan_id: str) -> str | None:
        with self._read() as session:
            return session.scalar(select(Scan.report_json).where(Scan.id == scan_id))

    def active_scans(self) -> list[ScanRecord]:
        """Queued and running scans, by priority then age: what a restarted service resumes."""
        query = (
            select(Scan)
            .where(Scan.status.in_([s.value for s in ACTIVE]))
            .order_by(Scan.priority.desc(), Scan.created_at)
        )
        with self._read() as session:
            return [_scan_record(scan) for scan in session.scalars(query)]

    def mark_running(self, scan_id: str) -> ScanRecord | None:
        """Claim a queued scan for a worker (counts an attempt); None when it is not queued
        any more (another worker took it, or it finished)."""
        with self._write() as session:
            claimed = session.execute(
                update(Scan)
                .where(Scan.id == scan_id, Scan.status == ScanStatus.QUEUED.value)
                .values(
                    status=ScanStatus.RUNNING.value,
                    attempts=Scan.attempts + 1,
                    started_at=now(),
                    stage="",
                )
            )
            if _rowcount(claimed) != 1:
                return None
            return _scan_record(_get(session, scan_id))

    def set_stage(self, scan_id: str, stage: str) -> None:
        with self._write() as session:
            session.execute(update(Scan).where(Scan.id == scan_id).values(stage=stage[:32]))

    def mark_failed(self, scan_id: str, reason: str) -> ScanRecord:
        return self._finish_without_report(scan_id, ScanStatus.FAILED, reason)

    def cancel(self, scan_id: str, reason: str) -> ScanRecord | None:
        """Failed with `reason` if still queued or running; None when it finished meanwhile
        (a cancel that comes late leaves the finished scan as it is)."""
        with self._write() as session:
            cancelled = session.execute(
                update(Scan)
                .where(Scan.id == scan_id, Scan.status.in_(("queued", "running")))
                .values(status=ScanStatus.FAILED.value, reason=reason, stage="", finished_at=now())
            )
            if _rowcount(cancelled) != 1:
                return None
            return _scan_record(_get(session, scan_id))

    def mark_poisoned(self, scan_id: str, reason: str) -> ScanRecord:
        return self._finish_without_report(scan_id, ScanStatus.POISONED, reason)

    def _finish_without_report(self, scan_id: str, status: ScanStatus, reason: str) -> ScanRecord:
        with self._write() as session:
            scan = _get(session, scan_id)
            scan.status, scan.reason, scan.stage = status.value, reason, ""
            scan.finished_at = now()
            return _scan_record(scan)

    def return_to_queue(self, scan_id: str) -> ScanRecord:
        """A running scan stopped by a graceful shutdown, not by its own doing: queued again
        for the next start, its attempt not counted."""
        with self._write() as session:
            scan = _get(session, scan_id)
            if scan.status == ScanStatus.RUNNING.value:
                scan.status, scan.stage, scan.reason = ScanStatus.QUEUED.value, "", ""
                scan.attempts = max(scan.attempts - 1, 0)
                scan.started_at = None
            return _scan_record(scan)

    def requeue_interrupted(self) -> tuple[list[ScanRecord], list[ScanRecord]]:
        """After a restart: scans left running lost their worker. Each is queued again, or
        poisoned once it has used MAX_ATTEMPTS. Returns (requeued, poisoned)."""
        requeued, poisoned = [], []
        with self._write() as session:
            for scan in session.scalars(select(Scan).where(Scan.status == "running")):
                if scan.attempts >= MAX_ATTEMPTS:
                    scan.status, scan.finished_at = ScanStatus.POISONED.value, now()
                    scan.reason = (
                        f"the worker stopped during each of {scan.attempts} attempts "
                        "(killed, crashed or restarted); not retried automatically"
                    )
                    poisoned.append(_scan_record(scan))
                else:
                    scan.status, scan.stage = ScanStatus.QUEUED.value, ""
                    requeued.append(_scan_record(scan))
        return requeued, poisoned

    def record_report(
        self, scan_id: str, report: Report, run: StoredRun | None = None
    ) -> ScanRecord:
        """Store a finished scan's report, its findings, IOCs and artifacts; status done.
        `run`: its run record (detonate.store.stored_runs), kept so the scan can be re-judged; a
        previous run's record of the scan goes either way (this report replaced its)."""
        document = json_report.to_document(report)
        with self._write() as session:
            scan = _get(session, scan_id)
            finished = now()
            scan.status, scan.stage, scan.reason = ScanStatus.DONE.value, "", ""
            scan.finished_at = finished
            if scan.started_at is not None:
                started = _aware(scan.started_at)
                scan.duration_seconds = round((finished - started).total_seconds(), 3)
            if report.error is not None:
                scan.reason = f"{report.error.stage}: {report.error.message}"
            _judge(session, scan, report, json_report.dumps_document(document), "scan", finished)
            scan.rejudged_at = None
            image = session.get(Image, scan.image_id)
            if image is not None and report.image.config_digest and not image.config_digest:
                image.config_digest = report.image.config_digest
            run_records.keep(session, scan_id, run)
            rejudge_claims.forget(session, scan_id)
            return _scan_record(scan)

    # -- re-judging stored runs (detonate.store.rejudge; the queries: store.run_records) --------

    def rejudge_candidates(
        self, ruleset: str, *, since: datetime | None = None, everything: bool = False
    ) -> list[RejudgeCandidate]:
        """Done full scans whose verdict `ruleset` did not judge (all of them with
        `everything`), oldest first; `since`: finished since then."""
        return run_records.candidates(self._read, ruleset, since, everything)

    def stored_run(self, scan_id: str) -> StoredRun | None:
        """The scan's kept run record and dropped-file copies; None when it has no row."""
        return run_records.load(self._read, scan_id)

    def replace_judgement(self, candidate: RejudgeCandidate, report: Report) -> ScanRecord | None:
        """The rejudged `report` becomes the scan's current one (verdict, findings, IOCs,
        report), the previous verdict stays in its judgements; None, and nothing written, when
        the scan is not as `candidate` found it any more (re-judged or re-run meanwhile)."""
        text = json_report.dumps_document(json_report.to_document(report))
        with self._write() as session:
            scan = session.get(Scan, candidate.id, with_for_update=True)
            if scan is None or not run_records.unchanged_since(scan, candidate):
                return None
            moment = now()
            _judge(session, scan, report, text, "rejudge", moment)
            scan.rejudged_at = moment
            return _scan_record(scan)

    def judgements(self, scan_id: str) -> list[JudgementRecord]:
        """Every verdict the scan had, oldest first: the last is its current one."""
        return run_records.judgements(self._read, scan_id)

    # -- the background rejudge (detonate.store.background_rejudge; store.rejudge_claims) -------

    def announce_ruleset(self, ruleset: str, owner: str) -> None:
        """`ruleset` is the one to re-judge the store towards from now on (the last one
        announced wins: see models.RejudgeRuleset)."""
        with self._write() as session:
            rejudge_claims.announce(session, ruleset, owner)

    def latest_ruleset(self) -> str | None:
        """The ruleset announced last, None when no process announced one."""
        row = rejudge_claims.latest(self._read)
        return row.ruleset_hash if row is not None else None

    def claim_rejudge(
        self, ruleset: str, owner: str, lease_seconds: float
    ) -> RejudgeCandidate | None:
        """One scan for `owner` to judge with `ruleset`, held for `lease_seconds`: the newest
        done full scan other rules judged, not done nor held for `ruleset`; None when none."""
        with self._write() as session:
            return rejudge_claims.claim(session, ruleset, owner, timedelta(seconds=lease_seconds))

    def finish_rejudge(
        self, scan_id: str, ruleset: str, owner: str, outcome: str, reason: str = ""
    ) -> bool:
        """The claimed scan is done for `ruleset` (never taken for it again)."""
        with self._write() as session:
            return rejudge_claims.finish(session, scan_id, ruleset, owner, outcome, reason)

    def release_rejudge(self, scan_id: str, ruleset: str, owner: str) -> None:
        with self._write() as session:
            rejudge_claims.release(session, scan_id, ruleset, owner)

    def rejudge_progress(self, ruleset: str | None = None) -> RejudgeProgress | None:
        """How far the background rejudge towards `ruleset` (default: the latest announced)
        is; None when none was announced and none is given."""
        ruleset = ruleset or self.latest_ruleset()
        return rejudge_claims.progress(self._read, ruleset) if ruleset else None

    def verdict_for(self, digest: str, platform: str = "linux/amd64") -> VerdictRecord | None:
        """The latest done scan of `digest` (a platform manifest's, or the index's it came
        from) on `platform`. One query on ix_scans_verdict_lookup."""
        with self.engine.connect() as connection:  # Core, prebuilt: admission calls this a lot
            row = connection.execute(
                VERDICT_QUERY, {"digest": digest, "platform": platform}
            ).first()
        if row is None:
            return None
        return VerdictRecord(
            digest=row[0],
            platform=row[1],
            verdict=str(row[2]),
            score=row[3] or 0,
            rule_id=row[4],
            title=row[5],
            scan_id=row[6],
            finished_at=_aware(row[7] or now()),
            ruleset_hash=row[8],
            rejudged_at=_aware(row[9]) if row[9] else None,
        )

    def counts(self) -> dict[tuple[str, str], int]:
        """(status, verdict or "") → number of scans: the /metrics gauges."""
        query = select(Scan.status, Scan.verdict, func.count()).group_by(Scan.status, Scan.verdict)
        with self._read() as session:
            return {(s, v or ""): n for s, v, n in session.execute(query)}

    # -- images and tags ---------------------------------------------------------------------

    def observe_tag(
        self, repository: str, tag: str, digest: str, source: Source | str
    ) -> TagRecord:
        """Record that `repository:tag` pointed at `digest` when `source` looked."""
        row = TagObservation(
            repository=repository[:512],
            tag=tag[:128],
            digest=digest,
            source=str(Source(source)),
            observed_at=now(),
        )
        with self._write() as session:
            session.add(row)
        return _tag_record(row)

    def tag_history(self, repository: str, tag: str | None = None) -> list[TagRecord]:
        """Newest first."""
        query = select(TagObservation).where(TagObservation.repository == repository)
        if tag is not None:
            query = query.where(TagObservation.tag == tag)
        query = query.order_by(TagObservation.observed_at.desc(), TagObservation.id.desc())
        with self._read() as session:
            return [_tag_record(row) for row in session.scalars(query)]

    def latest_digest(self, repository: str, tag: str) -> str | None:
        history = self.tag_history(repository, tag)
        return history[0].digest if history else None

    # -- admission ---------------------------------------------------------------------------

    def record_admission(
        self,
        *,
        image: str,
        allowed: bool,
        digest: str = "",
        verdict: str = "",
        policy: str = "",
        message: str = "",
        namespace: str = "",
        kind: str = "",
        name: str = "",
        scan_id: str | None = None,
    ) -> AdmissionRecord:
        row = AdmissionDecision(
            decided_at=now(),
            namespace=namespace[:253],
            kind=kind[:64],
            name=name[:253],
            image=image[:1024],
            digest=digest,
            allowed=allowed,
            verdict=verdict,
            policy=policy,
            message=message,
            scan_id=scan_id,
        )
        with self._write() as session:
            session.add(row)
            session.flush()
            return _admission_record(row)

    def record_admissions(self, decisions: Sequence[dict[str, Any]]) -> int:
        """Many `record_admission(**decision)` rows in one transaction (admission's recorder
        batches the decisions of many reviews: one commit instead of one per image)."""
        rows = [
            AdmissionDecision(
                decided_at=d.get("decided_at") or now(),
                namespace=str(d.get("namespace", ""))[:253],
                kind=str(d.get("kind", ""))[:64],
                name=str(d.get("name", ""))[:253],
                image=str(d["image"])[:1024],
                digest=str(d.get("digest", "")),
                allowed=bool(d["allowed"]),
                verdict=str(d.get("verdict", "")),
                policy=str(d.get("policy", "")),
                message=str(d.get("message", "")),
                scan_id=d.get("scan_id"),
            )
            for d in decisions
        ]
        if rows:
            with self._write() as session:
                session.add_all(rows)
        return len(rows)

    def admissions(self, limit: int = 50) -> list[AdmissionRecord]:
        query = (
            select(AdmissionDecision)
            .order_by(AdmissionDecision.decided_at.desc(), AdmissionDecision.id.desc())
            .limit(limit)
        )
        with self._read() as session:
            return [_admission_record(row) for row in session.scalars(query)]

    # -- tokens ------------------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        """A new API token named `name`; the plaintext is returned once and never stored."""
        if not name or len(name) > 128:
            raise StoreError("a token name is 1 to 128 characters")
        plaintext = "dtn_" + secrets.token_urlsafe(32)
        try:
            with self._write() as session:
                session.add(Token(name=name, token_hash=hash_token(plaintext), created_at=now()))
        except IntegrityError:
            raise StoreError(
                f"a token named {name!r} exists already", "pick another name"
            ) from None
        return plaintext

    def check_token(self, plaintext: str) -> bool:
        """True for a token `create_token` made. The lookup is by hash (an index probe) and
        the final comparison constant-time."""
        wanted = hash_token(plaintext)
        with self.engine.connect() as connection:  # every API request asks: Core, prebuilt
            found = connection.execute(TOKEN_QUERY, {"token_hash": wanted}).scalar()
        return found is not None and hmac.compare_digest(found, wanted)

    def token_names(self) -> list[str]:
        with self._read() as session:
            return list(session.scalars(select(Token.name).order_by(Token.name)))


def _psycopg(url: str) -> str:
    # "postgresql://…" means psycopg 3 here (SQLAlchemy's default driver name is psycopg2).
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we send BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        write = connection.get_execution_options().get("detonate_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _utc(moment: datetime) -> datetime:
    """A time to compare with stored ones: SQLite keeps the fields, not the zone, so every
    stored time is UTC and so must be what it is compared with (naive means UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _get(session: Session, scan_id: str) -> Scan:
    scan = session.get(Scan, scan_id)
    if scan is None:
        raise StoreError(f"no scan {scan_id}")
    return scan


def _image(session: Session, digest: str, platform: str, index_digest: str) -> Image:
    query = select(Image).where(Image.digest == digest, Image.platform == platform)
    image = session.scalars(query).first()
    if image is None:
        image = Image(
            digest=digest,
            platform=platform,
            config_digest="",
            index_digest=index_digest,
            first_seen=now(),
        )
        session.add(image)
        session.flush()
    elif index_digest and not image.index_digest:
        image.index_digest = index_digest
    return image


def _deciding(findings: Sequence[Finding]) -> Finding | None:
    """The finding a person should read first: the most severe, then the most confident."""
    ranked = sorted(
        findings,
        key=lambda f: (-SEVERITY_RANK[f.severity], -CONFIDENCE_RANK[f.confidence], f.rule_id),
    )
    return ranked[0] if ranked else None


def _judge(
    session: Session, scan: Scan, report: Report, report_json: str, kind: str, moment: datetime
) -> None:
    """`report`'s judgement becomes the scan's current one, and one more in its history."""
    deciding = _deciding(report.findings)
    scan.verdict, scan.score = report.verdict.value, report.score
    scan.deciding_rule = deciding.rule_id if deciding else ""
    scan.deciding_title = (deciding.title if deciding else "")[:512]
    scan.judged_ruleset_hash = report.ruleset_hash
    scan.report_json = report_json
    _replace_details(session, scan.id, report)
    session.add(
        Judgement(
            scan_id=scan.id,
            judged_at=moment,
            kind=kind,
            ruleset_hash=report.ruleset_hash,
            tool_version=report.tool_version[:32],
            verdict=report.verdict.value,
            score=report.score,
            deciding_rule=scan.deciding_rule,
            findings=len(report.findings),
        )
    )


def _replace_details(session: Session, scan_id: str, report: Report) -> None:
    for table in (FindingRow, ScanIoc, ScanArtifact):
        session.query(table).filter(table.scan_id == scan_id).delete()
    session.add_all(
        FindingRow(
            scan_id=scan_id,
            rule_id=f.rule_id,
            title=f.title[:512],
            category=f.category.value,
            technique=f.technique,
            severity=f.severity.value,
            confidence=f.confidence.value,
            runtime_only=f.runtime_only,
        )
        for f in report.findings
    )
    wanted = {
        (kind, value[:IOC_MAX])
        for kind, attribute in IOC_KINDS
        for value in getattr(report.iocs, attribute)
    }
    for kind, value in sorted(wanted):
        ioc_id = _ioc_id(session, kind, value)
        session.add(ScanIoc(scan_id=scan_id, ioc_id=ioc_id))
    seen: set[tuple[str, str]] = set()
    for change in report.files:
        if not change.sha256 or (change.sha256, change.path) in seen:
            continue
        seen.add((change.sha256, change.path))
        if session.get(Artifact, change.sha256) is None:
            session.add(
                Artifact(
                    sha256=change.sha256,
                    size=change.size,
                    content_type=change.content_type.value,
                    first_seen=now(),
                )
            )
            session.flush()
        session.add(
            ScanArtifact(
                scan_id=scan_id,
                sha256=change.sha256,
                path=change.path[:4096],
                executed=change.executed,
            )
        )


def _ioc_id(session: Session, kind: str, value: str) -> int:
    found = session.scalar(select(Ioc.id).where(Ioc.kind == kind, Ioc.value == value))
    if found is not None:
        return found
    # Another writer may insert the same IOC between our read and write (PostgreSQL allows
    # concurrent writers): a savepoint keeps that race from spoiling the whole transaction.
    try:
        with session.begin_nested():
            row = Ioc(kind=kind, value=value)
            session.add(row)
        return row.id
    except IntegrityError:
        found = session.scalar(select(Ioc.id).where(Ioc.kind == kind, Ioc.value == value))
        assert found is not None
        return found


def _scan_record(scan: Scan | Row[Any]) -> ScanRecord:
    return ScanRecord(
        id=scan.id,
        reference=scan.reference,
        digest=scan.digest,
        platform=scan.platform,
        profile=scan.profile,
        tool_version=scan.tool_version,
        ruleset_hash=scan.ruleset_hash,
        source=Source(scan.source),
        priority=scan.priority,
        status=ScanStatus(scan.status),
        stage=scan.stage,
        attempts=scan.attempts,
        reason=scan.reason,
        created_at=_aware(scan.created_at),
        started_at=_aware(scan.started_at) if scan.started_at else None,
        finished_at=_aware(scan.finished_at) if scan.finished_at else None,
        duration_seconds=scan.duration_seconds,
        verdict=scan.verdict,
        score=scan.score,
        deciding_rule=scan.deciding_rule,
        deciding_title=scan.deciding_title,
        judged_ruleset_hash=scan.judged_ruleset_hash,
        rejudged_at=_aware(scan.rejudged_at) if scan.rejudged_at else None,
    )


def _tag_record(row: TagObservation) -> TagRecord:
    return TagRecord(
        repository=row.repository,
        tag=row.tag,
        digest=row.digest,
        source=Source(row.source),
        observed_at=_aware(row.observed_at),
    )


def _admission_record(row: AdmissionDecision) -> AdmissionRecord:
    return AdmissionRecord(
        id=row.id,
        decided_at=_aware(row.decided_at),
        namespace=row.namespace,
        kind=row.kind,
        name=row.name,
        image=row.image,
        digest=row.digest,
        allowed=row.allowed,
        verdict=row.verdict,
        policy=row.policy,
        message=row.message,
        scan_id=row.scan_id,
    )
