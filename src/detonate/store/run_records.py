"""The store's run records, dropped-file copies and judgements: what re-judging stored scans
reads and writes (`Store.record_report`, `rejudge_candidates`, `stored_run`,
`replace_judgement`, `judgements` call these inside their own sessions)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from detonate.store.models import DroppedFileCopy, Judgement, RunRecordRow, Scan
from detonate.store.records import JudgementRecord, RejudgeCandidate, ScanStatus, StoredRun

Reader = Callable[[], AbstractContextManager[Session]]


def aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# what a re-judge candidate is read from (candidates() here, rejudge_claims.claim)
CANDIDATE_COLUMNS = (
    Scan.id,
    Scan.reference,
    Scan.verdict,
    Scan.score,
    Scan.judged_ruleset_hash,
    Scan.rejudged_at,
)


def candidate_from(row: Any, has_record: bool) -> RejudgeCandidate:
    """A candidate from a row that starts with CANDIDATE_COLUMNS."""
    return RejudgeCandidate(
        id=row[0],
        reference=row[1],
        verdict=row[2],
        score=row[3],
        judged_ruleset_hash=row[4],
        rejudged_at=aware(row[5]) if row[5] else None,
        has_record=has_record,
    )


def keep(session: Session, scan_id: str, run: StoredRun | None) -> None:
    """The scan's run record becomes `run` (none: the scan has none); copies are shared by
    sha256, the longest kept, and those only the replaced record named go with it."""
    previous = session.get(RunRecordRow, scan_id)
    replaced = set(previous.copies.split()) if previous is not None else set()
    session.query(RunRecordRow).filter(RunRecordRow.scan_id == scan_id).delete()
    _drop_unnamed(session, replaced - set(run.copies if run is not None else ()))
    if run is None:
        return
    session.add(
        RunRecordRow(
            scan_id=scan_id,
            version=run.version,
            recorded_at=run.recorded_at or datetime.now(UTC),
            size=len(run.data or b""),
            data=run.data,
            copies=" ".join(sorted(run.copies)),
            reason=run.reason,
        )
    )
    for sha256, data in sorted(run.copies.items()):
        # Two scans may store the same copy at once (PostgreSQL): a savepoint keeps the loser's
        # transaction alive; the winner's copy is the same bytes. The share lock keeps another
        # scan's prune (_drop_unnamed) from deleting the copy this record is about to name; if
        # that prune went first, the read waits for it and finds nothing, and the copy is added.
        existing = session.get(DroppedFileCopy, sha256, with_for_update={"read": True})
        if existing is None:
            try:
                with session.begin_nested():
                    session.add(DroppedFileCopy(sha256=sha256, size=len(data), data=data))
            except IntegrityError:
                existing = session.get(DroppedFileCopy, sha256, populate_existing=True)
        if existing is not None and existing.size < len(data):  # a run's copy was cut shorter
            existing.data, existing.size = data, len(data)


def _drop_unnamed(session: Session, copies: set[str]) -> None:
    """Delete those of `copies` no run record names any more. The store keeps no scan for a
    limited time (there is no retention to prune with): a copy loses its last record only
    when that record is replaced (a CLI `--store` scan of the same image and rules stores its
    report over the service's, without a record), so this is where copies are pruned."""
    for sha256 in sorted(copies):
        # Lock the copy before asking whether a record names it: a scan keeping a record that
        # names it holds a share lock (keep), so this waits for that scan to commit, and the
        # question is then asked of a snapshot that sees its record (PostgreSQL, read committed).
        lock = select(DroppedFileCopy.sha256).where(DroppedFileCopy.sha256 == sha256)
        if session.scalar(lock.with_for_update()) is None:
            continue
        named = select(RunRecordRow.scan_id).where(RunRecordRow.copies.contains(sha256)).limit(1)
        if session.scalar(named) is None:
            session.query(DroppedFileCopy).filter(DroppedFileCopy.sha256 == sha256).delete()


def load(read: Reader, scan_id: str) -> StoredRun | None:
    with read() as session:
        row = session.get(RunRecordRow, scan_id)
        if row is None:
            return None
        wanted = row.copies.split()
        query = select(DroppedFileCopy).where(DroppedFileCopy.sha256.in_(wanted))
        copies = {copy.sha256: copy.data for copy in session.scalars(query)} if wanted else {}
        return StoredRun(
            data=row.data,
            copies=copies,
            version=row.version,
            recorded_at=aware(row.recorded_at),
            reason=row.reason,
        )


def candidates(
    read: Reader, ruleset: str, since: datetime | None, everything: bool
) -> list[RejudgeCandidate]:
    query = (
        select(*CANDIDATE_COLUMNS, RunRecordRow.data.is_not(None))
        .outerjoin(RunRecordRow, RunRecordRow.scan_id == Scan.id)
        .where(Scan.status == ScanStatus.DONE.value, Scan.profile == "full")
        .order_by(Scan.finished_at, Scan.id)
    )
    if not everything:
        query = query.where(Scan.judged_ruleset_hash != ruleset)
    if since is not None:
        moment = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        query = query.where(Scan.finished_at >= moment)
    with read() as session:
        return [candidate_from(row, bool(row[6])) for row in session.execute(query)]


def unchanged_since(scan: Scan, candidate: RejudgeCandidate) -> bool:
    """Whether `scan` (read in the writing transaction) is still as `candidate` saw it."""
    rejudged = aware(scan.rejudged_at) if scan.rejudged_at else None
    return (
        scan.status == ScanStatus.DONE.value
        and scan.judged_ruleset_hash == candidate.judged_ruleset_hash
        and rejudged == candidate.rejudged_at
        and scan.verdict == candidate.verdict
        and scan.score == candidate.score
    )


def judgements(read: Reader, scan_id: str) -> list[JudgementRecord]:
    query = select(Judgement).where(Judgement.scan_id == scan_id).order_by(Judgement.id)
    with read() as session:
        return [
            JudgementRecord(
                judged_at=aware(row.judged_at),
                kind=row.kind,
                ruleset_hash=row.ruleset_hash,
                tool_version=row.tool_version,
                verdict=row.verdict,
                score=row.score,
                deciding_rule=row.deciding_rule,
                findings=row.findings,
            )
            for row in session.scalars(query)
        ]
