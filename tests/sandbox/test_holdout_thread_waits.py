"""The hold-out thread countdowns (samples/waits-holdout-thread/, written blind to the time
keeper's rules): each waits 900 s in sub-second rounds of a runtime's thread primitives (a
condition variable or semaphore with a timeout, a queue's or a context's timeout, a Timer
chain, a selector on a socketpair, Atomics.wait in a worker) and then runs the miner stand-in.
A default scan must show the payload, the 900 s skipped and the delay finding. A form the rules
miss is a strict xfail (NOT_YET): it fails loudly the day it passes."""

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

HOLDOUT = Path(__file__).resolve().parents[2] / "samples" / "waits-holdout-thread"
FORMS = forms(HOLDOUT)
# First pass 2026-12-06 ~05:05 UTC, one scan each: 6 of 8. What each miss looked like.
NOT_YET: dict[str, str] = {
    "node-atomics-wait-worker": "run idle, 8 s skipped: Atomics.wait's futex in a worker, while "
    "main waits in libuv's epoll_wait (not on a futex) and V8's threads come and go; since an "
    "idle event loop counts as parked, 120-185 s skipped, then idle (V8's delayed-task thread "
    "waits with a timeout now and then)",
}


# Reached its payload in 2 of 3 runs since kin adoption (42 s; idle after 141 s skipped
# beside the other sandbox suites), and in ~40 s beside CI runs; on a quiet machine with the
# keeper on the sample's CPU it skips 170-440 s and stalls: not yet understood.
SOME_RUNS: dict[str, str] = {
    "python-timer-chain": "a Timer chain's links adopt each other's run, but some runs end idle "
    "partway (141 s skipped beside other suites; 170-440 s on a quiet machine)",
}


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_archives(HOLDOUT, tmp_path_factory.mktemp("waits-holdout-thread"))


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("form", [form_param(f, NOT_YET, SOME_RUNS) for f in FORMS])
def test_a_blind_thread_countdown_reaches_its_payload(
    form: str, archives: dict[str, Path], tmp_path: Path
) -> None:
    report = scan_form(HOLDOUT, form, archives, tmp_path)
    assert_payload_after_the_wait(report, form)
