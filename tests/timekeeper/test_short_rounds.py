"""A countdown of short waits is reported as one wait per thread, not 90,000 (each round is
under the report threshold), without a sample: the keeper's bookkeeping alone."""

from __future__ import annotations

import time
from pathlib import Path

from detonate.sandbox.timekeeper import waits
from detonate.sandbox.timekeeper.clock import NS, Deadline
from detonate.sandbox.timekeeper.keeper import TimeKeeper, _Held
from detonate.sandbox.timekeeper.notify import Notification

TEN_MS = NS // 100
NINE_MS = 9 * NS // 1000
SIGNATURE = ("nanosleep", 0)


def skip_rounds(keeper: TimeKeeper, count: int, effects: int, tid: int = 11) -> None:
    """`count` rounds of a 10 ms nanosleep, each held and answered after a 10 ms jump."""
    for round_ in range(count):
        hold = waits.Hold("nanosleep", TEN_MS, keeper.clock.offset + TEN_MS, waits.Reply())
        note = Notification(id=round_, pid=tid, nr=35, arch=0, args=(0,) * 6)
        held = _Held(note, 10, hold, wall=1000.0 + round_ / 1000, offset=keeper.clock.offset)
        keeper.clock.offset += TEN_MS
        deadline = Deadline(round_, hold.deadline, 10, SIGNATURE)
        assert keeper._add_round(held, deadline, effects, end_wall=1000.0)


def test_short_rounds_add_up_to_one_reported_wait(tmp_path: Path) -> None:
    keeper = TimeKeeper(tmp_path)
    skip_rounds(keeper, 90_000, effects=3)
    keeper.close()
    (wait,) = keeper.records
    assert (wait.pid, wait.tid, wait.call, wait.outcome) == (10, 11, "nanosleep", "timeout")
    assert wait.requested_seconds == wait.skipped_seconds == 900.0
    assert wait.wall == 1000.0  # when the first round began


def test_a_round_jumped_past_its_truncated_deadline_asked_for_what_it_waited(
    tmp_path: Path,
) -> None:
    """Go's 9 ms `epoll_pwait` of a 9.97 ms timer, jumped 0.97 ms past (Deadline.slack): the
    rounds add up to what the sample waited for, not to 90,000 × 9 ms."""
    keeper = TimeKeeper(tmp_path)
    for round_ in range(90_000):
        start = keeper.clock.now(time.monotonic_ns())
        hold = waits.Hold("epoll_pwait", NINE_MS, start + NINE_MS, waits.Reply())
        note = Notification(id=round_, pid=11, nr=281, arch=0, args=(0,) * 6)
        held = _Held(note, 10, hold, wall=1000.0, offset=keeper.clock.offset)
        keeper.clock.offset += NINE_MS + NS // 1000 - 30_000  # to the timer, 9.97 ms on
        deadline = Deadline(round_, hold.deadline, 10, ("epoll_pwait", 0), slack=NS // 1000 - 1)
        assert keeper._add_round(held, deadline, 0, end_wall=1000.0)
    keeper.close()
    (wait,) = keeper.records
    # 9.97 ms a round, plus the real time between rounds here, never past the 1 ms slack
    assert 897 <= wait.requested_seconds <= 90_000 * (NINE_MS + NS // 1000) / NS


def test_an_effect_between_rounds_starts_a_new_sum_and_a_second_of_rounds_is_reported(
    tmp_path: Path,
) -> None:
    keeper = TimeKeeper(tmp_path)
    skip_rounds(keeper, 500, effects=0)
    skip_rounds(keeper, 50, effects=1)  # half a second: under the report threshold
    keeper.close()
    assert [w.requested_seconds for w in keeper.records] == [5.0]


def test_a_round_not_skipped_or_long_enough_to_report_alone_is_not_added(tmp_path: Path) -> None:
    keeper = TimeKeeper(tmp_path)
    hold = waits.Hold("nanosleep", TEN_MS, TEN_MS, waits.Reply())
    note = Notification(id=1, pid=11, nr=35, arch=0, args=(0,) * 6)
    at_real_pace = _Held(note, 10, hold, wall=1000.0, offset=keeper.clock.offset)
    deadline = Deadline(1, TEN_MS, 10, SIGNATURE)
    assert not keeper._add_round(at_real_pace, deadline, 0, end_wall=1000.0)
    long = waits.Hold("nanosleep", 5 * NS, 5 * NS, waits.Reply())
    keeper.clock.offset += 5 * NS
    assert not keeper._add_round(_Held(note, 10, long, 1000.0, 0), deadline, 0, 1000.0)
    keeper.close()
