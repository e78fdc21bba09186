"""The seam between who asks for scans and who runs them. The in-process pool implements it
today; a Celery task queue can stand behind it for a fleet without the API changing.

The store, not the queue, is the record: a queue only holds scan ids, so it may lose them
(a restart) and be refilled from the store's queued scans.
"""

from __future__ import annotations

from typing import Protocol


class ScanQueue(Protocol):
    def submit(self, scan_id: str, priority: int = 0) -> None:
        """Run the queued scan `scan_id` when a worker is free, higher priority first (no-op
        if it is queued here already)."""

    def cancel(self, scan_id: str) -> bool:
        """Stop the scan: dropped if waiting, cancelled if running. False if not known here."""

    def depth(self) -> int:
        """Scans waiting for a worker (not counting running ones)."""

    def running(self) -> int:
        """Scans a worker is running now."""

    def close(self) -> None:
        """Stop taking work, cancel running scans and wait for the workers to end."""
