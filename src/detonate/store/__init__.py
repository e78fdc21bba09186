"""store: scans, verdicts, images and their tags, IOCs, artifacts, admission decisions and API
tokens in SQL (SQLite embedded by default, PostgreSQL for a team). See `store.Store`."""

from detonate.store.records import (
    AdmissionRecord,
    CacheKey,
    JudgementRecord,
    RejudgeCandidate,
    ScanRecord,
    ScanStatus,
    Source,
    StoredRun,
    TagRecord,
    VerdictRecord,
)
from detonate.store.store import MAX_ATTEMPTS, ScanFilter, Store, default_url

__all__ = [
    "MAX_ATTEMPTS",
    "AdmissionRecord",
    "CacheKey",
    "JudgementRecord",
    "RejudgeCandidate",
    "ScanFilter",
    "ScanRecord",
    "ScanStatus",
    "Source",
    "Store",
    "StoredRun",
    "TagRecord",
    "VerdictRecord",
    "default_url",
]
