"""What a hold-out countdown's scan must show (tests/sandbox/test_holdout_*_waits.py): each
form waits 900 s in sub-second rounds and then runs the miner stand-in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from detonate.factory.build import build_sample, unbuildable
from detonate.model.options import ScanOptions
from detonate.model.report import Report
from detonate.pipeline import scan

from .busybox_image import sandbox_available

MINER = "/usr/local/bin/xmrig"
WAIT_SECONDS = 900


def forms(holdout: Path) -> list[str]:
    return sorted(p.parent.name for p in holdout.glob("*/image.yaml"))


def build_archives(holdout: Path, out: Path) -> dict[str, Path]:
    """Each buildable form of the set as an OCI archive (a module fixture's work)."""
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    return {
        form: build_sample(holdout / form, out).archive
        for form in forms(holdout)
        if unbuildable(holdout / form) is None
    }


def form_param(form: str, not_yet: dict[str, str]) -> object:
    """A form the rules do not cover yet is a strict xfail: it fails loudly the day it passes."""
    if form in not_yet:
        return pytest.param(form, marks=pytest.mark.xfail(reason=not_yet[form], strict=True))
    return form


def scan_form(holdout: Path, form: str, archives: dict[str, Path], cache: Path) -> Report:
    """A default scan of one form of the set (skipped if it cannot be built here), printing
    what a miss would need to be told apart: the run's end and its wait events."""
    if form not in archives:
        pytest.skip(f"{form}: {unbuildable(holdout / form)}")
    report = scan(f"oci-archive:{archives[form]}", ScanOptions(cache_dir=cache))
    print(f"{form}: run {report.run.status}, {report.run.skipped_sleep_seconds:.0f} s skipped")
    print(f"{form}: wait events {_wait_calls(report.events)}")
    return report


def _wait_calls(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many of each time.* event and call the run saw, to say what a miss looked like."""
    calls: dict[str, int] = {}
    for e in events:
        if str(e["kind"]).startswith("time."):
            key = f"{e['kind']}:{e.get('call')}"
            calls[key] = calls.get(key, 0) + 1
    return calls


def assert_payload_after_the_wait(report: Report, form: str) -> None:
    """The payload (the miner's exec and stratum login) after the 900 s (in the sample's time,
    and not much more), which were skipped, and the delay finding."""
    assert report.error is None, report.error
    execs = [e for e in report.events if e["kind"] == "process.exec" and e["path"] == MINER]
    assert execs, f"{form}: the payload never ran (run {report.run.status})"
    assert any(e["kind"] == "stratum_login" for e in report.events)
    print(f"{form}: payload after {execs[0]['ts']:.1f} s ({execs[0]['sample_ts']:.0f} s sample)")
    assert report.run.skipped_sleep_seconds >= 0.9 * WAIT_SECONDS
    assert execs[0]["sample_ts"] >= 0.99 * WAIT_SECONDS
    # nor much later: a jump past a wait still pending (a heartbeat thread's 4 s timer jumped
    # to while the countdown's round waited at real pace) runs the sample's clock ahead
    assert execs[0]["sample_ts"] <= 1.5 * WAIT_SECONDS, "the sample's clock ran ahead"
    assert any(f.rule_id == "sleep-before-activity" for f in report.findings)
