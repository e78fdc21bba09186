"""store: scans, verdicts, images and their tags, IOCs, artifacts, admission decisions and API
tokens in SQL (SQLite embedded by default, PostgreSQL for a team). See `store.Store`.

Re-judging stored runs with other rules: `stored_runs` (what a scan's run keeps in the store),
`rejudge` (`detonate rejudge --db`), `background_rejudge` (when serve or a worker starts with
other rules). Those import the pipeline, so this package does not import them."""

from detonate.store.records import (
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
from detonate.store.store import MAX_ATTEMPTS, ScanFilter, Store, default_url

__all__ = [
    "MAX_ATTEMPTS",
    "AdmissionRecord",
    "CacheKey",
    "JudgementRecord",
    "RejudgeCandidate",
    "RejudgeProgress",
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
