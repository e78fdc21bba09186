"""The store's side of the background rejudge (detonate.store.background_rejudge): which
ruleset to re-judge towards, claiming one scan at a time under a lease, marking it done, and
the progress every process can read. `Store` calls these inside its own sessions.

A claim is safe between processes and machines: the candidate is read with `FOR UPDATE OF
scans SKIP LOCKED` on PostgreSQL (two claimers never wait on, nor take, the same row) and under
the write lock taken up front on SQLite (`BEGIN IMMEDIATE`: claims are serial); the mark is
then written only if the scan is still free (a conditional UPDATE, or an INSERT that loses to
the primary key), so a claimer that read before another committed gets nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from detonate.store.models import RejudgeMark, RejudgeRuleset, RunRecordRow, Scan
from detonate.store.records import RejudgeCandidate, RejudgeProgress, ScanStatus
from detonate.store.run_records import CANDIDATE_COLUMNS, aware, candidate_from

Reader = Callable[[], AbstractContextManager[Session]]


def _now() -> datetime:
    return datetime.now(UTC)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def announce(session: Session, ruleset: str, owner: str) -> None:
    """`ruleset` becomes the latest announced one (see RejudgeRuleset)."""
    row = session.get(RejudgeRuleset, ruleset)
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    RejudgeRuleset(
                        ruleset_hash=ruleset, announced_at=_now(), announced_by=owner[:128]
                    )
                )
            return
        except IntegrityError:  # announced by a replica starting at the same moment
            row = session.get(RejudgeRuleset, ruleset, populate_existing=True)
    if row is not None:
        row.announced_at, row.announced_by = _now(), owner[:128]


def latest(read: Reader) -> RejudgeRuleset | None:
    query = select(RejudgeRuleset).order_by(RejudgeRuleset.announced_at.desc()).limit(1)
    with read() as session:
        return session.scalars(query).first()


def _taken(ruleset: str, moment: datetime) -> ColumnElement[bool]:
    """The scan's mark says it is done for `ruleset`, or held under a live lease for it."""
    return and_(
        RejudgeMark.ruleset_hash == ruleset,
        or_(RejudgeMark.done_at.is_not(None), RejudgeMark.lease_until >= moment),
    )


def _to_judge(ruleset: str) -> ColumnElement[bool]:
    return and_(
        Scan.status == ScanStatus.DONE.value,
        Scan.profile == "full",
        Scan.judged_ruleset_hash != ruleset,
    )


def claim(session: Session, ruleset: str, owner: str, lease: timedelta) -> RejudgeCandidate | None:
    """The newest done full scan other rules judged that nobody has taken for `ruleset`,
    now held by `owner` for `lease`; None when there is none (or another claimer won it)."""
    moment = _now()
    query = (
        select(*CANDIDATE_COLUMNS)
        .outerjoin(RejudgeMark, RejudgeMark.scan_id == Scan.id)
        .where(_to_judge(ruleset), or_(RejudgeMark.scan_id.is_(None), ~_taken(ruleset, moment)))
        # newest first: recent images are the ones being deployed and asked about
        .order_by(Scan.finished_at.desc(), Scan.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Scan)
    )
    row = session.execute(query).first()
    if row is None:
        return None
    scan_id = row[0]
    until = moment + lease
    taken = session.execute(
        update(RejudgeMark)
        .where(RejudgeMark.scan_id == scan_id, ~_taken(ruleset, moment))
        .values(
            # a lapsed lease of this ruleset counts on; another ruleset's mark starts over
            attempts=case((RejudgeMark.ruleset_hash == ruleset, RejudgeMark.attempts + 1), else_=1),
            ruleset_hash=ruleset,
            owner=owner[:128],
            lease_until=until,
            done_at=None,
            outcome="",
            reason="",
        )
    )
    if _rowcount(taken) != 1:
        if session.get(RejudgeMark, scan_id, populate_existing=True) is not None:
            return None  # marked: by another claimer since we read
        try:
            with session.begin_nested():
                session.add(
                    RejudgeMark(
                        scan_id=scan_id,
                        ruleset_hash=ruleset,
                        owner=owner[:128],
                        attempts=1,
                        lease_until=until,
                        done_at=None,
                        outcome="",
                        reason="",
                    )
                )
        except IntegrityError:
            return None
    has_record = session.scalar(
        select(RunRecordRow.data.is_not(None)).where(RunRecordRow.scan_id == scan_id)
    )
    return candidate_from(row, bool(has_record))


def finish(
    session: Session, scan_id: str, ruleset: str, owner: str, outcome: str, reason: str
) -> bool:
    """The claim of `owner` on the scan is done with `outcome`; False when it was not
    `owner`'s any more (its lease lapsed and another took it)."""
    done = session.execute(
        update(RejudgeMark)
        .where(
            RejudgeMark.scan_id == scan_id,
            RejudgeMark.ruleset_hash == ruleset,
            RejudgeMark.owner == owner[:128],
            RejudgeMark.done_at.is_(None),
        )
        .values(done_at=_now(), lease_until=None, outcome=outcome[:16], reason=reason)
    )
    return _rowcount(done) == 1


def release(session: Session, scan_id: str, ruleset: str, owner: str) -> None:
    """Give a claim back undone (a stopping process): the next claimer takes it at once."""
    session.execute(
        update(RejudgeMark)
        .where(
            RejudgeMark.scan_id == scan_id,
            RejudgeMark.ruleset_hash == ruleset,
            RejudgeMark.owner == owner[:128],
            RejudgeMark.done_at.is_(None),
        )
        .values(lease_until=_now() - timedelta(seconds=1))
    )


def forget(session: Session, scan_id: str) -> None:
    """A new report of the scan (a re-run): what was re-judged of the old one no longer holds."""
    session.execute(delete(RejudgeMark).where(RejudgeMark.scan_id == scan_id))


def progress(read: Reader, ruleset: str) -> RejudgeProgress:
    moment = _now()
    pending = (
        select(func.count())
        .select_from(Scan)
        .outerjoin(RejudgeMark, RejudgeMark.scan_id == Scan.id)
        .where(_to_judge(ruleset), or_(RejudgeMark.scan_id.is_(None), ~_taken(ruleset, moment)))
    )
    claimed = select(func.count()).where(
        RejudgeMark.ruleset_hash == ruleset,
        RejudgeMark.done_at.is_(None),
        RejudgeMark.lease_until >= moment,
    )
    done = (
        select(RejudgeMark.outcome, func.count())
        .where(RejudgeMark.ruleset_hash == ruleset, RejudgeMark.done_at.is_not(None))
        .group_by(RejudgeMark.outcome)
    )
    with read() as session:
        announced = session.get(RejudgeRuleset, ruleset)
        return RejudgeProgress(
            ruleset_hash=ruleset,
            announced_at=aware(announced.announced_at) if announced else None,
            announced_by=announced.announced_by if announced else "",
            pending=int(session.scalar(pending) or 0),
            claimed=int(session.scalar(claimed) or 0),
            done={str(outcome): int(count) for outcome, count in session.execute(done)},
        )
