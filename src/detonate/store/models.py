"""The store's tables (SQLAlchemy 2 typed ORM). Alembic migrations in `migrations/` create them;
this module is the shape the code reads and writes, and the migrations' source of truth.

    images ─┬─ scans ─┬─ findings
            │         ├─ scan_iocs ── iocs          (an IOC is stored once, linked per scan)
            │         ├─ scan_artifacts ── artifacts (by sha256)
            │         ├─ judgements                 (every verdict the scan had, newest last)
            │         ├─ run_records ·· dropped_file_copies (by sha256: what rejudge reads)
            │         └─ rejudge_marks              (a background rejudge's claim, then outcome)
    tag_observations (repository:tag → digest, with who saw it)
    rejudge_rulesets (the ruleset each background rejudger announced; the last one wins)
    admission_decisions, tokens
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DIGEST = 80  # "sha256:" + 64 hex, with room for sha512 digests
SCAN_STATUSES = ("queued", "running", "done", "failed", "poisoned")
SOURCES = ("cli", "api", "webhook", "admission", "honeypot")


class Base(DeclarativeBase):
    pass


class Image(Base):
    """One platform image by manifest digest; `index_digest` when it came from a manifest list."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("digest", "platform", name="uq_images_digest_platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(DIGEST))
    platform: Mapped[str] = mapped_column(String(64))
    config_digest: Mapped[str] = mapped_column(String(DIGEST), default="")
    index_digest: Mapped[str] = mapped_column(String(DIGEST), default="", index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TagObservation(Base):
    """ "registry.test/team/app:1 pointed at sha256:… when `source` looked" — tags move."""

    __tablename__ = "tag_observations"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES!r}", name="ck_tag_observations_source"),
        Index("ix_tag_observations_repository_tag", "repository", "tag", "observed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(512))
    tag: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(DIGEST), index=True)
    source: Mapped[str] = mapped_column(String(16))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Scan(Base):
    __tablename__ = "scans"
    __table_args__ = (
        CheckConstraint(f"status IN {SCAN_STATUSES!r}", name="ck_scans_status"),
        CheckConstraint(f"source IN {SOURCES!r}", name="ck_scans_source"),
        # verdict_for: the latest done scan of a digest, answered from this index alone
        Index("ix_scans_verdict_lookup", "digest", "platform", "status", "finished_at"),
        Index("ix_scans_status_priority", "status", "priority", "created_at"),
        Index("ix_scans_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(64), unique=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"), index=True)
    reference: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(DIGEST))
    platform: Mapped[str] = mapped_column(String(64))
    tool_version: Mapped[str] = mapped_column(String(32))
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32), default="")  # progress: the stage running
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it failed or was poisoned
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deciding_rule: Mapped[str] = mapped_column(String(128), default="")
    deciding_title: Mapped[str] = mapped_column(String(512), default="")
    report_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The rules that judged the current verdict (the report's ruleset_hash; "" when unknown:
    # stored before it was kept) and when a rejudge last replaced it (None: the scan's own).
    judged_ruleset_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    rejudged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Judgement(Base):
    """One verdict a scan had: its own ("scan"), then one per rejudge that replaced it. The
    newest is the scan's current verdict; the older ones stay for the history."""

    __tablename__ = "judgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    judged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))  # "scan" | "rejudge"
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    tool_version: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)
    deciding_rule: Mapped[str] = mapped_column(String(128))
    findings: Mapped[int] = mapped_column(Integer)


class RunRecordRow(Base):
    """A scan's run record (detonate.run_record, gzip'd JSON as written), so the run can be
    judged again; `data` None when none could be kept, and `reason` says why."""

    __tablename__ = "run_records"

    scan_id: Mapped[str] = mapped_column(
        ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    copies: Mapped[str] = mapped_column(Text, default="")  # sha256s of its dropped files, " "
    reason: Mapped[str] = mapped_column(Text, default="")


class DroppedFileCopy(Base):
    """The first bytes of a file a run dropped, by its sha256 (as many as a detector reads):
    what a stored run's rejudge reads instead of the run's artifacts directory."""

    __tablename__ = "dropped_file_copies"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RejudgeMark(Base):
    """A background rejudge's hold on one scan for one ruleset: claimed by `owner` until
    `lease_until` (a process that dies lets it lapse), then done with the outcome. A scan
    marked done for a ruleset is never taken again for it; its next scan removes the mark."""

    __tablename__ = "rejudge_marks"

    scan_id: Mapped[str] = mapped_column(
        ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True
    )
    ruleset_hash: Mapped[str] = mapped_column(String(64), index=True)
    owner: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer)  # claims for this ruleset (1 unless lapsed)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="")  # store.rejudge.Outcome
    reason: Mapped[str] = mapped_column(Text, default="")


class RejudgeRuleset(Base):
    """A ruleset a service or worker re-judges the store towards, and when it said so last:
    only the latest announced one is worked on (an older replica left running, or rolled
    back to, must not re-judge the store back and forth with a newer one)."""

    __tablename__ = "rejudge_rulesets"

    ruleset_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    announced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    announced_by: Mapped[str] = mapped_column(String(128))


class FindingRow(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(String(512))
    category: Mapped[str] = mapped_column(String(64))
    technique: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[str] = mapped_column(String(16))
    runtime_only: Mapped[bool] = mapped_column(Boolean)


class Ioc(Base):
    __tablename__ = "iocs"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_iocs_kind_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # domain, ip, url, wallet, pool, sha256
    value: Mapped[str] = mapped_column(String(2048))


class ScanIoc(Base):
    __tablename__ = "scan_iocs"

    scan_id: Mapped[str] = mapped_column(
        ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True
    )
    ioc_id: Mapped[int] = mapped_column(ForeignKey("iocs.id"), primary_key=True, index=True)


class Artifact(Base):
    """A file a run created or changed, by content: the same dropper in many images is one row."""

    __tablename__ = "artifacts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(16), default="")
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScanArtifact(Base):
    __tablename__ = "scan_artifacts"

    scan_id: Mapped[str] = mapped_column(
        ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"), primary_key=True)
    path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    executed: Mapped[bool] = mapped_column(Boolean, default=False)


class AdmissionDecision(Base):
    __tablename__ = "admission_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    namespace: Mapped[str] = mapped_column(String(253), default="")
    kind: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(253), default="")
    image: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(DIGEST), default="")
    allowed: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(String(16), default="")  # "" when unknown
    policy: Mapped[str] = mapped_column(String(16), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    scan_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Token(Base):
    """API bearer tokens: only the sha256 of the token is kept."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
