"""Runs of samples/scenarios recorded in real sandbox runs, as test fixtures.

Each runs/<scenario>/ holds the run record a scan with artifacts writes (detonate.run_record:
events, process table, filesystem diff, honeytokens, the image files detection read) and, in
artifacts/, the run's dropped-file copies cut to the most a detector reads of one file. They
are judged exactly as `detonate rejudge` judges a stored run. Re-record them after a tracer
change with scripts/record-scenario-runs.
"""

from __future__ import annotations

from pathlib import Path

from detonate.detect.interface import RunView
from detonate.run_record import RECORD_NAME, load_run_record

RUNS = Path(__file__).parent / "runs"


def recorded_names() -> list[str]:
    return sorted(p.parent.name for p in RUNS.glob(f"*/{RECORD_NAME}"))


def load_run(name: str) -> RunView:
    return load_run_record(RUNS / name / RECORD_NAME).view()
