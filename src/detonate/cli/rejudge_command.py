"""`detonate rejudge --db URL [--since WHEN] [--all] [--rules DIR]`: the store's scans judged
again with today's rules (detonate.store.rejudge); what changed is listed and counted.

Exit status: 0 when every scan taken was judged again (or left as it was, or kept no run
record to judge), 1 when the record of some could not be judged (each is listed with the
reason; its report is kept), 2 on a usage, rule or store error.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console

from detonate.cli.progress_bar import RichProgress
from detonate.errors import UsageError
from detonate.store import Store
from detonate.store.rejudge import Outcome, RejudgeSummary, ScanOutcome, rejudge_store

PROGRESS_SECONDS = 5.0  # a progress line this often when stderr is no terminal (logs)


def run(
    args: argparse.Namespace,
    url: str,
    ignore_file: Path | None,
    stdout: Console,
    stderr: Console,
) -> int:
    if args.run_dir is not None:
        raise UsageError("give RUN_DIR or --db, not both")
    if args.format not in ("table", "json"):
        raise UsageError("with --db, --format is table or json")
    store = Store.open(url)
    listed = _Lines(stdout, stderr, args.format == "table")
    show_bar = not args.no_progress and stderr.is_terminal
    try:
        with RichProgress(stderr) if show_bar else nullcontext() as bar:
            summary = rejudge_store(
                store,
                args.rules,
                ignore_file,
                since=args.since,
                everything=args.all,
                progress=bar,
                observe=listed.show,
            )
    finally:
        store.close()
    if args.format == "json":
        stdout.print_json(json.dumps(_document(summary)))
    else:
        stdout.print(_counts(summary), highlight=False)
    return 1 if summary.failed else 0


class _Lines:
    """Each changed verdict and each scan not re-judged as it happens; a progress line now
    and then when no bar is shown."""

    def __init__(self, stdout: Console, stderr: Console, text: bool) -> None:
        self.stdout, self.stderr, self.text = stdout, stderr, text
        self.done, self.last = 0, time.monotonic()

    def show(self, outcome: ScanOutcome) -> None:
        self.done += 1
        if self.text and outcome.outcome is Outcome.CHANGED:
            self.stdout.print(
                f"changed  {outcome.scan_id}  {outcome.reference}  "
                f"{outcome.before} -> {outcome.after}",
                highlight=False,
            )
        elif outcome.outcome in (Outcome.NOT_REJUDGED, Outcome.NO_RECORD):
            label = "not re-judged" if outcome.outcome is Outcome.NOT_REJUDGED else "no record"
            self.stderr.print(
                f"{label}  {outcome.scan_id}  {outcome.reference}: {outcome.reason} "
                f"(its {outcome.before} report is kept)",
                highlight=False,
            )
        if not self.stderr.is_terminal and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.last = time.monotonic()
            self.stderr.print(f"rejudge: {self.done} scans done", highlight=False)


def _counts(summary: RejudgeSummary) -> str:
    total = len(summary.outcomes)
    parts = ", ".join(
        f"{summary.count(kind)} {label}"
        for kind, label in (
            (Outcome.CHANGED, "verdicts changed"),
            (Outcome.REJUDGED, "re-judged to the same verdict"),
            (Outcome.IDENTICAL, "identical (not rewritten)"),
            (Outcome.NOT_REJUDGED, "not re-judged"),
            (Outcome.NO_RECORD, "without a run record"),
            (Outcome.RACED, "changed meanwhile by another writer"),
        )
    )
    return f"rules {summary.ruleset_hash[:16]}: {total} scans: {parts}"


def _document(summary: RejudgeSummary) -> dict[str, object]:
    return {
        "ruleset_hash": summary.ruleset_hash,
        "counts": {kind.value: summary.count(kind) for kind in Outcome},
        "scans": [
            {
                "id": o.scan_id,
                "reference": o.reference,
                "outcome": o.outcome.value,
                "before": o.before,
                "after": o.after,
                "reason": o.reason,
            }
            for o in summary.outcomes
        ],
    }
