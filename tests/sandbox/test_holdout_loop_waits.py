"""The hold-out event-loop countdowns (samples/waits-holdout-loop/, written blind to the time
keeper's rules): each waits 900 s in sub-second rounds driven by a language runtime's timers or
event loop (Go tickers and AfterFunc, Node's setInterval and timers/promises, asyncio, Event.wait,
hand-written epoll and poll loops) and then runs the miner stand-in. A default scan must show the
payload (the exec of xmrig and its stratum login), the 900 s skipped and the delay finding. A
form the rules miss is a strict xfail (NOT_YET): it fails loudly the day it passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from .holdout_waits import (
    assert_payload_after_the_wait,
    build_archives,
    form_param,
    forms,
    scan_form,
)

HOLDOUT = Path(__file__).resolve().parents[2] / "samples" / "waits-holdout-loop"
FORMS = forms(HOLDOUT)
# Form → what its miss looks like. Empty: every form reaches its payload (the first pass, on
# 2026-12-06, missed four; README.md says what each looked like and what took it).
NOT_YET: dict[str, str] = {}


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_archives(HOLDOUT, tmp_path_factory.mktemp("waits-holdout-loop"))


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("form", [form_param(f, NOT_YET) for f in FORMS])
def test_a_blind_event_loop_countdown_reaches_its_payload(
    form: str, archives: dict[str, Path], tmp_path: Path
) -> None:
    report = scan_form(HOLDOUT, form, archives, tmp_path)
    assert_payload_after_the_wait(report, form)
