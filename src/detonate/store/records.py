"""What the store hands out: frozen records, never ORM objects (they outlive the session)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ScanStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the worker could not produce a report (not a `verdict: error` report)
    POISONED = "poisoned"  # the worker died on it too often: never retried automatically


class Source(StrEnum):
    """Who asked for a scan or saw a tag."""

    CLI = "cli"
    API = "api"
    WEBHOOK = "webhook"
    ADMISSION = "admission"
    HONEYPOT = "honeypot"


ACTIVE = (ScanStatus.QUEUED, ScanStatus.RUNNING)


@dataclass(frozen=True)
class CacheKey:
    """What makes two scans the same scan: same image bytes, same analyser, same rules."""

    digest: str
    platform: str
    tool_version: str
    ruleset_hash: str
    profile: str


@dataclass(frozen=True)
class ScanRecord:
    id: str
    reference: str
    digest: str
    platform: str
    profile: str
    tool_version: str
    ruleset_hash: str
    source: Source
    priority: int
    status: ScanStatus
    stage: str  # the stage running now ("acquire", "sandbox", …), "" when not running
    attempts: int
    reason: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    verdict: str | None
    score: int | None
    deciding_rule: str
    deciding_title: str
    judged_ruleset_hash: str = ""  # the rules that judged the current verdict ("" unknown)
    rejudged_at: datetime | None = None  # when a rejudge last replaced the verdict

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class JudgementRecord:
    """One verdict a scan had (`kind` "scan": its own; "rejudge": a later ruleset's)."""

    judged_at: datetime
    kind: str
    ruleset_hash: str
    tool_version: str
    verdict: str
    score: int
    deciding_rule: str
    findings: int


@dataclass(frozen=True)
class VerdictRecord:
    """The latest finished verdict of a digest: what admission decides on."""

    digest: str
    platform: str
    verdict: str
    score: int
    rule_id: str  # the finding that decided it ("" for clean)
    title: str
    scan_id: str
    finished_at: datetime
    ruleset_hash: str = ""  # the rules that judged it ("" when not known)
    rejudged_at: datetime | None = None  # when a rejudge last replaced it


@dataclass(frozen=True)
class TagRecord:
    repository: str
    tag: str
    digest: str
    source: Source
    observed_at: datetime


@dataclass(frozen=True)
class AdmissionRecord:
    id: int
    decided_at: datetime
    namespace: str
    kind: str
    name: str
    image: str
    digest: str
    allowed: bool
    verdict: str
    policy: str
    message: str
    scan_id: str | None


@dataclass(frozen=True)
class StoredRun:
    """A scan's run record as the store keeps it (detonate.store.stored_runs): the gzip'd record
    and its dropped-file copies by sha256; `data` None, with the `reason`, when not kept."""

    data: bytes | None
    copies: Mapping[str, bytes] = field(default_factory=dict)
    version: int = 0
    recorded_at: datetime | None = None
    reason: str = ""

    @classmethod
    def missing(cls, reason: str, at: datetime) -> StoredRun:
        return cls(data=None, recorded_at=at, reason=reason)


@dataclass(frozen=True)
class RejudgeCandidate:
    """A done scan a rejudge may replace the verdict of, as it was when listed: the
    replacement happens only if it is still so (another rejudge, or a re-run, did not win)."""

    id: str
    reference: str
    verdict: str | None
    score: int | None
    judged_ruleset_hash: str
    rejudged_at: datetime | None
    has_record: bool


@dataclass(frozen=True)
class RejudgeProgress:
    """How far the background rejudge towards one ruleset is, across every process."""

    ruleset_hash: str
    announced_at: datetime | None
    announced_by: str
    pending: int  # done full scans other rules judged, not yet taken for this ruleset
    claimed: int  # taken now, under a live lease
    done: Mapping[str, int]  # outcome (store.rejudge.Outcome) → scans

    @property
    def finished(self) -> int:
        return sum(self.done.values())
