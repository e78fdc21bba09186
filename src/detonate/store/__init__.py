"""store: scans, verdicts, images and their tags, IOCs, artifacts, admission decisions and API
tokens in SQL (SQLite embedded by default, PostgreSQL for a team). See `store.Store`."""

from detonate.store.records import (
    AdmissionRecord,
    CacheKey,
    ScanRecord,
    ScanStatus,
    Source,
    TagRecord,
    VerdictRecord,
)
from detonate.store.store import MAX_ATTEMPTS, ScanFilter, Store, default_url

__all__ = [
    "MAX_ATTEMPTS",
    "AdmissionRecord",
    "CacheKey",
    "ScanFilter",
    "ScanRecord",
    "ScanStatus",
    "Source",
    "Store",
    "TagRecord",
    "VerdictRecord",
    "default_url",
]
