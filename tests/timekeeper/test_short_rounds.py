"""A countdown of short waits is reported as one wait per thread, not 90,000 (each round is
under the report threshold), without a sample: the keeper's bookkeeping alone."""

from __future__ import annotations

from pathlib import Path

from detonate.sandbox.timekeeper import waits
from detonate.sandbox.timekeeper.clock import NS
from detonate.sandbox.timekeeper.keeper import TimeKeeper, _Held
from detonate.sandbox.timekeeper.notify import Notification

TEN_MS = NS // 100
SIGNATURE = ("nanosleep", 0)


def skip_rounds(keeper: TimeKeeper, count: int, effects: int, tid: int = 11) -> None:
    """`count` rounds of a 10 ms nanosleep, each held and answered after a 10 ms jump."""
    for round_ in range(count):
        hold = waits.Hold("nanosleep", TEN_MS, keeper.clock.offset + TEN_MS, waits.Reply())
        note = Notification(id=round_, pid=tid, nr=35, arch=0, args=(0,) * 6)
        held = _Held(note, 10, hold, wall=1000.0 + round_ / 1000, offset=keeper.clock.offset)
        keeper.clock.offset += TEN_MS
        assert keeper._add_round(held, SIGNATURE, effects, end_wall=1000.0)


def test_short_rounds_add_up_to_one_reported_wait(tmp_path: Path) -> None:
    keeper = TimeKeeper(tmp_path)
    skip_rounds(keeper, 90_000, effects=3)
    keeper.close()
    (wait,) = keeper.records
    assert (wait.pid, wait.tid, wait.call, wait.outcome) == (10, 11, "nanosleep", "timeout")
    assert wait.requested_seconds == wait.skipped_seconds == 900.0
    assert wait.wall == 1000.0  # when the first round began


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
    assert not keeper._add_round(at_real_pace, SIGNATURE, 0, end_wall=1000.0)
    long = waits.Hold("nanosleep", 5 * NS, 5 * NS, waits.Reply())
    keeper.clock.offset += 5 * NS
    assert not keeper._add_round(_Held(note, 10, long, 1000.0, 0), SIGNATURE, 0, 1000.0)
    keeper.close()
