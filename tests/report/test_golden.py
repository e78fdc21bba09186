"""Golden reports: the same input gives byte-identical output in every format.

The renderers are fed fixed reports (test_html's); the pipeline golden is a static-only scan of
the bundled `planted-static` image with an injected clock. A difference fails the test with a
diff; after a deliberate change, rewrite the files with `DETONATE_UPDATE_GOLDEN=1 pytest
tests/report/test_golden.py` and review the diff in git.

What the pipeline golden does not pin (replaced by placeholders before comparing): stage
timings, the archive's path, the tool and ruleset versions, and what depends on the host's
busybox-static package (the image and config digests, the unpacked size and file count)."""

from __future__ import annotations

import difflib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_html import runtime_report, static_report

from detonate.model.options import ScanOptions
from detonate.model.report import Report
from detonate.pipeline import scan
from detonate.report import html, json_report, sarif
from detonate.report.table import render

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DETONATE_UPDATE_GOLDEN") == "1"
CLOCK = datetime(2026, 1, 1, tzinfo=UTC)


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    want = path.read_text()
    if text != want:
        diff = difflib.unified_diff(
            want.splitlines(), text.splitlines(), f"golden/{name}", "now", lineterm="", n=2
        )
        pytest.fail("output differs from the golden file:\n" + "\n".join(list(diff)[:80]))


def _terminal(report: Report) -> str:
    console = Console(record=True, width=120, color_system=None)
    render(report, console)
    return console.export_text()


REPORTS = {"runtime": runtime_report, "static": static_report}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_format_renders_a_fixed_report_identically(name: str) -> None:
    report = REPORTS[name]()
    _check(f"{name}.report.json", json_report.dumps(report))
    _check(f"{name}.sarif.json", sarif.dumps(report))
    _check(f"{name}.terminal.txt", _terminal(report))
    _check(f"{name}.report.html", html.render(report))


PLACEHOLDERS = {
    ("image", "reference"): "<archive>",
    ("image", "digest"): "<digest>",
    ("image", "config_digest"): "<config digest>",
    ("image", "bytes_unpacked"): 0,
    ("image", "files"): 0,
    ("tool_version",): "<version>",
    ("ruleset_hash",): "<ruleset>",
}


def _pinned(document: dict[str, Any]) -> dict[str, Any]:
    for keys, placeholder in PLACEHOLDERS.items():
        *parents, last = keys
        holder = document
        for key in parents:
            holder = holder[key]
        assert last in holder, f"the report has no {'.'.join(keys)} any more"
        holder[last] = placeholder
    for timing in document["timings"]:
        timing["seconds"] = 0
    return document


def test_a_static_scan_with_an_injected_clock_gives_the_golden_report(built_samples, tmp_path):
    reference = built_samples["planted-static"].archive_reference
    options = ScanOptions(cache_dir=tmp_path / "cache", static_only=True)
    report = scan(reference, options, clock=lambda: CLOCK)
    assert report.generated_at == CLOCK.isoformat()
    document = _pinned(json_report.to_document(report))
    _check("planted-static.static-scan.json", json.dumps(document, indent=1, sort_keys=True) + "\n")
