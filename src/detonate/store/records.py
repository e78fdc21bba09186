"""What the store hands out: frozen records, never ORM objects (they outlive the session)."""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


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
