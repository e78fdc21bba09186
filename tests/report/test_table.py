"""The terminal table's headline says where the sandbox's time went."""

from __future__ import annotations

from rich.console import Console
from test_html import runtime_report

from detonate.model.report import RunSummary
from detonate.report.table import render


def _text(summary: RunSummary) -> str:
    console = Console(record=True, width=120)
    render(runtime_report(run=summary), console)
    return console.export_text()


def test_the_headline_names_the_sandbox_phases() -> None:
    phases = (("setup", 0.41), ("run", 2.1), ("collect", 0.05), ("teardown", 0.08))
    text = _text(RunSummary(status="exited", duration_seconds=2.1, phase_seconds=phases))
    assert "sandbox   setup 0.4 s, run 2.1 s, collect 0.1 s, teardown 0.1 s" in text


def test_a_run_without_phases_has_no_sandbox_line() -> None:
    assert "sandbox   " not in _text(RunSummary(status="exited", duration_seconds=2.1))
