"""The virtual clock and the discrete-event schedule, without a sample."""

from __future__ import annotations

from detonate.sandbox.timekeeper.clock import NS, REPEAT_LIMIT, Deadline, Schedule, VirtualClock


def test_a_jump_moves_virtual_time_to_the_target_and_never_back() -> None:
    clock = VirtualClock()
    assert clock.now(5 * NS) == 5 * NS
    assert clock.jump_to(65 * NS, real_monotonic_ns=5 * NS, wall=1000.0) == 60 * NS
    assert clock.now(6 * NS) == 66 * NS
    assert clock.jump_to(10 * NS, real_monotonic_ns=7 * NS, wall=1001.0) == 0  # in the past
    assert clock.offset == 60 * NS


def test_sample_time_before_and_after_each_jump() -> None:
    clock = VirtualClock()
    clock.jump_to(100 * NS, 0, wall=1000.0)
    clock.jump_to(300 * NS, 0, wall=1002.0)
    assert clock.offset_at(999.0) == 0.0
    assert clock.offset_at(1001.0) == 100.0
    assert clock.offset_at(1003.0) == 300.0


def test_time_moves_to_the_earliest_deadline_and_releases_only_what_is_due() -> None:
    """A background `sleep 60` and a foreground `sleep 1`: the jump goes to 1 s; the 60 s
    sleeper stays held (another process may still inspect or signal it)."""
    schedule = Schedule()
    schedule.add(Deadline(key=1, at=60 * NS, pid=10, signature=("clock_nanosleep", 600)))
    schedule.add(Deadline(key=2, at=1 * NS, pid=11, signature=("clock_nanosleep", 10)))
    clock = VirtualClock()
    target = schedule.next_jump()
    assert target == 1 * NS
    clock.jump_to(target, real_monotonic_ns=0, wall=0.0)
    due = schedule.due(clock.now(0))
    assert [d.key for d in due] == [2]
    assert list(schedule.pending) == [1]
    assert schedule.next_jump() == 60 * NS


def test_several_due_at_once_come_out_earliest_first() -> None:
    schedule = Schedule()
    for key, at in ((1, 30), (2, 10), (3, 20), (4, 99)):
        schedule.add(Deadline(key=key, at=at * NS, pid=key))
    assert [d.key for d in schedule.due(30 * NS)] == [2, 3, 1]
    assert list(schedule.pending) == [4]


def compress_repeatedly(schedule: Schedule, signature: tuple[object, ...], length: int) -> int:
    """Add and compress the same wait until it is not compressible; how many times it was."""
    for count in range(10_000):
        added = schedule.add(Deadline(key=count, at=length, pid=100, signature=signature,
                                      length=length))  # fmt: skip
        if not added.compressible:
            return count
        (due,) = schedule.due(length)
        schedule.note_timed_out(due)
    return -1


def test_a_timer_loop_stops_being_compressed_after_a_minute_of_sample_time() -> None:
    """A health loop's `sleep 5`: compressed until a minute of sample time has been skipped
    that way, then it runs at real pace and neither moves the clock nor keeps the run from
    ending idle. Another wait still moves the clock."""
    schedule = Schedule()
    assert compress_repeatedly(schedule, ("clock_nanosleep", 50), 5 * NS) == 12
    assert not schedule.has_compressible() and schedule.next_jump() is None
    schedule.add(Deadline(key=-1, at=900 * NS, pid=300, signature=("poll", 9000)))
    assert schedule.next_jump() == 900 * NS


def test_a_long_wait_repeated_is_a_loop_after_the_repeat_limit() -> None:
    """A beacon's `sleep 60`: five rounds are seen in sample time, then it is a loop."""
    assert compress_repeatedly(Schedule(), ("clock_nanosleep", 600), 60 * NS) == REPEAT_LIMIT


def test_a_sub_second_tick_is_a_loop_after_the_repeat_limit() -> None:
    """redis' 100 ms epoll tick would take a thousand jumps to make a minute."""
    assert compress_repeatedly(Schedule(), ("epoll_wait", 1), NS // 10) == REPEAT_LIMIT


def test_removing_a_wait_takes_it_out_of_the_schedule() -> None:
    schedule = Schedule()
    schedule.add(Deadline(key=7, at=NS, pid=1))
    assert schedule.remove(7) is not None and schedule.remove(7) is None
    assert schedule.next_jump() is None
