"""The hold-out sub-second countdowns (samples/waits-holdout-sub/, written blind to the time
keeper's countdown rule): each waits 900 s in rounds of 100–900 ms and then runs the miner
stand-in. A default scan must show the payload (the exec of xmrig and its stratum login), the
900 s skipped and the delay finding. The forms the rule does not cover yet are strict xfails
(docs/sandbox.md, "Countdowns of short waits", limits): they fail loudly the day they pass."""

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

HOLDOUT = Path(__file__).resolve().parents[2] / "samples" / "waits-holdout-sub"
FORMS = forms(HOLDOUT)
NOT_YET: dict[str, str] = {}


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_archives(HOLDOUT, tmp_path_factory.mktemp("waits-holdout-sub"))


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("form", [form_param(f, NOT_YET) for f in FORMS])
def test_a_blind_sub_second_countdown_reaches_its_payload(
    form: str, archives: dict[str, Path], tmp_path: Path
) -> None:
    report = scan_form(HOLDOUT, form, archives, tmp_path)
    assert_payload_after_the_wait(report, form)
