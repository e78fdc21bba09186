"""What the exports (STIX, MISP) read alike from a report window: the done scans created in
[since, until), oldest first; the IOC kinds they list; the store's naive timestamps as UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from detonate.store.models import Scan

IOC_KINDS = ("pool", "wallet", "domain", "ip")  # the IOCs an export lists


def aware(moment: datetime) -> datetime:
    """The store's naive timestamps are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def finished_scans(session: Session, since: datetime, until: datetime) -> Sequence[Scan]:
    """The done scans created in the window, oldest first (the same store, the same order)."""
    return session.scalars(
        select(Scan)
        .where(Scan.created_at >= since, Scan.created_at < until, Scan.status == "done")
        .order_by(Scan.created_at, Scan.id)
    ).all()
