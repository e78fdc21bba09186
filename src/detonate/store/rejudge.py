"""Re-judging the store's scans with today's rules: `detonate rejudge --db URL`.

    summary = rejudge_store(store, rules_dir)      # the scans other rules judged
    summary = rejudge_store(store, rules_dir, everything=True, since=yesterday)

Each done full scan with a kept run record (detonate.store.stored_runs) is judged again by
`pipeline.rejudge`, as `detonate rejudge RUN_DIR` would. Its new report replaces the current
one in one transaction (verdict, findings, IOCs, report JSON, the ruleset hash that judged it
and when); the previous verdict stays in the scan's judgements. By default only scans whose
verdict other rules judged are taken; `everything` takes them all, and a scan judged again by
the same rules to the same verdict and score is left as it is (nothing is written).

A scan that cannot be judged again is reported with the reason and keeps its report: NO_RECORD
when it kept none (scanned before records were kept, a CLI scan, a record over the bounds),
NOT_REJUDGED when its record is corrupt, of a newer format, its dropped-file copies are
missing, or a detector crashed. A scan a
concurrent rejudge or re-run changed after it was listed is left to that one ("raced"). Static
scans keep no run and are not taken: their static findings come from the image itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from detonate.errors import DetonateError
from detonate.pipeline import rejudge
from detonate.progress import NullProgress, Progress
from detonate.rules.loader import load_rules, ruleset_hash
from detonate.store import RejudgeCandidate, Store
from detonate.store.stored_runs import materialized
from detonate.verdict.suppress import load_suppressions

log = logging.getLogger("detonate.rejudge")
TASK = "rejudge"


class Outcome(StrEnum):
    CHANGED = "changed"  # a new verdict replaced the old one
    REJUDGED = "rejudged"  # the new rules' judgement replaced the old one, same verdict
    IDENTICAL = "identical"  # same rules, same verdict and score: nothing written
    NO_RECORD = "no-record"  # the scan kept no run record (older, or over the bounds)
    NOT_REJUDGED = "not-rejudged"  # its record is unusable, or the detectors failed
    RACED = "raced"  # changed by a concurrent rejudge or re-run after it was listed


@dataclass(frozen=True)
class ScanOutcome:
    scan_id: str
    reference: str
    outcome: Outcome
    before: str | None  # the verdict before
    after: str | None  # the verdict now (the same unless CHANGED)
    reason: str = ""  # why NOT_REJUDGED


@dataclass
class RejudgeSummary:
    ruleset_hash: str
    outcomes: list[ScanOutcome] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome is outcome)

    @property
    def changed(self) -> list[ScanOutcome]:
        return [o for o in self.outcomes if o.outcome is Outcome.CHANGED]

    @property
    def failed(self) -> list[ScanOutcome]:
        """Scans whose record could not be judged again (not those that kept none)."""
        return [o for o in self.outcomes if o.outcome is Outcome.NOT_REJUDGED]


Observer = Callable[[ScanOutcome], None]


def rejudge_store(
    store: Store,
    rules_dir: Path | None = None,
    ignore_file: Path | None = None,
    *,
    since: datetime | None = None,
    everything: bool = False,
    progress: Progress | None = None,
    observe: Observer | None = None,
) -> RejudgeSummary:
    """Judge the store's scans again (see the module doc); RuleError before any scan when
    the rules do not load, SuppressionError when the ignore file does not."""
    progress = progress or NullProgress()
    load_rules("runtime", rules_dir)  # rules that do not load fail here, not once per scan
    current = ruleset_hash(rules_dir)
    if ignore_file:
        load_suppressions(ignore_file)  # as the rules: a bad file fails before any scan
    summary = RejudgeSummary(current)
    candidates = store.rejudge_candidates(current, since=since, everything=everything)
    progress.start(TASK, total=len(candidates), unit="scans")
    try:
        for candidate in candidates:
            outcome = judge_one(store, candidate, rules_dir, ignore_file, current)
            summary.outcomes.append(outcome)
            if observe is not None:
                observe(outcome)
            progress.advance(TASK)
    finally:
        progress.finish(TASK)
    return summary


def judge_one(
    store: Store,
    candidate: RejudgeCandidate,
    rules_dir: Path | None,
    ignore_file: Path | None,
    current: str,
) -> ScanOutcome:
    """Judge one listed (or claimed) scan again with the rules `current` hashes."""

    def outcome(kind: Outcome, after: str | None, reason: str = "") -> ScanOutcome:
        return ScanOutcome(
            candidate.id, candidate.reference, kind, candidate.verdict, after, reason
        )

    kept = store.stored_run(candidate.id)
    if kept is None or kept.data is None:
        why = kept.reason if kept is not None else "scanned before the store kept run records"
        return outcome(Outcome.NO_RECORD, candidate.verdict, f"no run record kept: {why}")
    try:
        with materialized(kept) as run_dir:
            report = rejudge(run_dir, rules_dir, ignore_file)
    except DetonateError as error:
        return outcome(Outcome.NOT_REJUDGED, candidate.verdict, error.message)
    except Exception as error:  # one bad record never stops the others
        log.exception("scan %s: rejudge crashed", candidate.id)
        return outcome(
            Outcome.NOT_REJUDGED, candidate.verdict, f"internal error: {type(error).__name__}"
        )
    verdict = report.verdict.value
    same = (candidate.judged_ruleset_hash, candidate.verdict, candidate.score)
    if same == (current, verdict, report.score):
        return outcome(Outcome.IDENTICAL, verdict)
    replaced = store.replace_judgement(candidate, report)
    if replaced is None:
        return outcome(Outcome.RACED, candidate.verdict)
    kind = Outcome.CHANGED if verdict != candidate.verdict else Outcome.REJUDGED
    return outcome(kind, verdict)
