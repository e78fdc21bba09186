"""The hold-out event-loop countdowns (samples/waits-holdout-loop/, written blind to the time
keeper's rules): each waits 900 s in sub-second rounds driven by a language runtime's timers or
event loop (Go tickers and AfterFunc, Node's setInterval and timers/promises, asyncio, Event.wait,
hand-written epoll and poll loops) and then runs the miner stand-in. A default scan must show the
payload (the exec of xmrig and its stratum login), the 900 s skipped and the delay finding. The
forms the first pass missed are strict xfails: they fail loudly the day they pass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from detonate.factory.build import build_sample, unbuildable
from detonate.model.options import ScanOptions
from detonate.pipeline import scan

from .busybox_image import sandbox_available

HOLDOUT = Path(__file__).resolve().parents[2] / "samples" / "waits-holdout-loop"
FORMS = sorted(p.parent.name for p in HOLDOUT.glob("*/image.yaml"))
MINER = "/usr/local/bin/xmrig"
WAIT_SECONDS = 900
# First pass 2026-12-06 01:11 UTC: what each miss looked like (run status, seconds skipped).
NOT_YET: dict[str, str] = {
    "node-await-timers-promises": "run idle, 7 s skipped: libuv epoll_wait(250 ms) rounds",
    "node-interval-count": "run idle, 160 s skipped: libuv epoll_wait(200 ms) rounds",
    "python-asyncio-sleep": "run idle, 0 s skipped: asyncio's epoll_wait(200 ms) rounds",
    "python-event-wait": "run idle, 0 s skipped, no time.* events: Event.wait(0.1) in a thread",
}


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    out = tmp_path_factory.mktemp("waits-holdout-loop")
    return {
        form: build_sample(HOLDOUT / form, out).archive
        for form in FORMS
        if unbuildable(HOLDOUT / form) is None
    }


def _wait_calls(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many of each time.* event and call the run saw, to say what a miss looked like."""
    calls: dict[str, int] = {}
    for e in events:
        if str(e["kind"]).startswith("time."):
            key = f"{e['kind']}:{e.get('call')}"
            calls[key] = calls.get(key, 0) + 1
    return calls


def _param(form: str) -> object:
    if form in NOT_YET:
        return pytest.param(form, marks=pytest.mark.xfail(reason=NOT_YET[form], strict=True))
    return form


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("form", [_param(f) for f in FORMS])
def test_a_blind_event_loop_countdown_reaches_its_payload(
    form: str, archives: dict[str, Path], tmp_path: Path
) -> None:
    if form not in archives:
        pytest.skip(f"{form}: {unbuildable(HOLDOUT / form)}")
    report = scan(f"oci-archive:{archives[form]}", ScanOptions(cache_dir=tmp_path))
    assert report.error is None, report.error
    print(f"{form}: run {report.run.status}, {report.run.skipped_sleep_seconds:.0f} s skipped")
    print(f"{form}: wait events {_wait_calls(report.events)}")
    execs = [e for e in report.events if e["kind"] == "process.exec" and e["path"] == MINER]
    assert execs, f"{form}: the payload never ran (run {report.run.status})"
    assert any(e["kind"] == "stratum_login" for e in report.events)
    print(f"{form}: payload after {execs[0]['ts']:.1f} s ({execs[0]['sample_ts']:.0f} s sample)")
    assert report.run.skipped_sleep_seconds >= 0.9 * WAIT_SECONDS
    assert execs[0]["sample_ts"] >= 0.99 * WAIT_SECONDS
    assert any(f.rule_id == "sleep-before-activity" for f in report.findings)
