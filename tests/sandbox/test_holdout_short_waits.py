"""The hold-out short-step countdowns (samples/waits-holdout-short/, written blind to the time
keeper): each waits 900 s in rounds of 2–10 ms (90,000 to 450,000 of them: Go's `time.Sleep`
and a ticker, C `poll(NULL, 0, 7)` and an absolute `clock_nanosleep` in a worker, Node's
`setTimeout` chain, Python's `time.sleep` in a thread and asyncio) and then runs the miner
stand-in. A default scan must show the payload, the 900 s skipped and the delay finding. A form
the rules miss is a strict xfail (NOT_YET): it fails loudly the day it passes."""

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

HOLDOUT = Path(__file__).resolve().parents[2] / "samples" / "waits-holdout-short"
FORMS = forms(HOLDOUT)
NOT_YET: dict[str, str] = {}


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_archives(HOLDOUT, tmp_path_factory.mktemp("waits-holdout-short"))


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("form", [form_param(f, NOT_YET) for f in FORMS])
def test_a_blind_short_step_countdown_reaches_its_payload(
    form: str, archives: dict[str, Path], tmp_path: Path
) -> None:
    report = scan_form(HOLDOUT, form, archives, tmp_path)
    assert_payload_after_the_wait(report, form)
