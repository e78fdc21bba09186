"""The virtual clock and the discrete-event schedule, without a sample."""

from __future__ import annotations

from detonate.sandbox.timekeeper.clock import (
    COUNTDOWN_SAMPLE_SECONDS,
    NS,
    REPEAT_LIMIT,
    Deadline,
    Schedule,
    ShortRuns,
    VirtualClock,
)


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


def compress_repeatedly(
    schedule: Schedule, signature: tuple[object, ...], length: int, work: bool = True
) -> int:
    """Add and compress the same wait until it is not compressible; how many times it was.
    With `work`, the sample has an effect (a write, a connect …) between every two rounds."""
    effects = 0
    for count in range(10_000):
        added = schedule.add(Deadline(key=count, at=length, pid=100, signature=signature,
                                      length=length))  # fmt: skip
        if not added.compressible:
            return count
        (due,) = schedule.due(length)
        schedule.note_timed_out(due, effects)
        effects += work
    return -1


def test_a_timer_loop_stops_being_compressed_after_a_minute_of_sample_time() -> None:
    """A health loop's `sleep 5; echo ok > /tmp/health`: compressed until a minute of sample
    time has been skipped that way, then it runs at real pace and neither moves the clock nor
    keeps the run from ending idle. Another wait still moves the clock."""
    schedule = Schedule()
    assert compress_repeatedly(schedule, ("clock_nanosleep", 50), 5 * NS) == 12
    assert not schedule.has_compressible() and schedule.next_jump() is None
    schedule.add(Deadline(key=-1, at=900 * NS, pid=300, signature=("poll", 9000)))
    assert schedule.next_jump() == 900 * NS


def test_a_countdown_is_compressed_for_its_whole_budget() -> None:
    """`while [ $i -lt 120 ]; do sleep 5; …`: nothing between the rounds, so it is a delay
    like one long sleep; compressed until COUNTDOWN_SAMPLE_SECONDS, not one minute."""
    schedule = Schedule()
    rounds = compress_repeatedly(schedule, ("clock_nanosleep", 50), 5 * NS, work=False)
    assert rounds == COUNTDOWN_SAMPLE_SECONDS // 5
    (deadline,) = schedule.pending.values()
    assert not deadline.compressible and not schedule.is_countdown(deadline)


def rounds_of(schedule: Schedule, count: int, effects_between: int) -> Deadline:
    """`count` rounds of a 1 s sleep ran out; the next one is held."""
    for key in range(count):
        wait = Deadline(key=key, at=NS, pid=1, signature=("nanosleep", 10), length=NS)
        assert not schedule.is_countdown(schedule.add(wait))
        (due,) = schedule.due(NS)
        schedule.note_timed_out(due, key * effects_between)
    return schedule.add(Deadline(key=count, at=NS, pid=1, signature=("nanosleep", 10), length=NS))


def test_a_countdown_round_is_told_from_a_first_round_and_from_work() -> None:
    """Only a loop seen REPEAT_LIMIT times without effects between rounds is a countdown (its
    rounds jump without the settle); a loop with effects is not. Another kind of wait pending
    beside it keeps the fast jump only while it is due later than the round."""
    countdown = Schedule()
    held = rounds_of(countdown, REPEAT_LIMIT, effects_between=0)
    assert countdown.is_countdown(held) and countdown.countdown_next()
    later = Deadline(key=100, at=30 * NS, pid=2, signature=("poll", 300), length=30 * NS)
    countdown.add(later)
    assert countdown.countdown_next()  # a poll loop beside a later wait: still a countdown's
    countdown.add(Deadline(key=101, at=NS, pid=3, signature=("poll", 7), length=NS))
    assert not countdown.countdown_next()  # another wait due with the round: the ordinary way
    countdown.remove(101)
    countdown.remove(held.key)
    assert not countdown.countdown_next()  # the next jump is the other wait's
    work = Schedule()
    held = rounds_of(work, REPEAT_LIMIT, effects_between=1)
    assert not work.is_countdown(held) and not work.countdown_next()


def test_a_long_wait_repeated_is_a_loop_after_the_repeat_limit() -> None:
    """A beacon's `sleep 60`: five rounds are seen in sample time, then it is a loop."""
    assert compress_repeatedly(Schedule(), ("clock_nanosleep", 600), 60 * NS) == REPEAT_LIMIT


def test_a_sub_second_tick_is_a_loop_after_the_repeat_limit() -> None:
    """redis' 100 ms epoll tick with an effect between rounds would take a thousand jumps to
    make a minute."""
    assert compress_repeatedly(Schedule(), ("epoll_wait", 0), NS // 10) == REPEAT_LIMIT


TEN_MS = NS // 100
SHORT = ("nanosleep", 0)


def test_a_thread_s_10_ms_waits_back_to_back_are_held_after_the_repeat_limit() -> None:
    """`usleep(10000)` 90,000 times: each alone is the kernel's, but after REPEAT_LIMIT rounds
    back to back with no effect between them the thread's rounds are held (a countdown's,
    compressible even though sub-second ticks are loops), until they make the budget."""
    runs = ShortRuns()
    assert not any(runs.round(7, SHORT, TEN_MS, effects=3) for _ in range(REPEAT_LIMIT))
    assert runs.round(7, SHORT, TEN_MS, effects=3)
    schedule = Schedule()
    held = schedule.add(Deadline(key=1, at=TEN_MS, pid=7, signature=SHORT, length=TEN_MS,
                                 countdown=True))  # fmt: skip
    assert held.compressible and schedule.is_countdown(held) and schedule.countdown_next()
    runs.runs[7].held_ns = COUNTDOWN_SAMPLE_SECONDS * NS
    assert not runs.round(7, SHORT, TEN_MS, effects=3)  # its hour is used up: real pace


def test_a_run_whose_1_ms_rounds_follow_longer_ones_truncates_its_deadlines() -> None:
    """Go's netpoller waits 9 ms of a 9.97 ms timer, then 1 ms for the rest: that run cuts its
    deadlines to whole ms (its rounds in ms may be jumped past by up to 1 ms). A loop of
    `poll(NULL, 0, 7)` or of 1 ms waits does not: its rounds keep their length."""
    ms = NS // 1000
    poll = ("epoll_pwait", 0)
    runs = ShortRuns()
    runs.round(7, poll, 9 * ms, effects=0)
    assert not runs.truncates(7)
    runs.round(7, poll, ms, effects=0)
    assert runs.truncates(7)
    runs.round(7, poll, 9 * ms, effects=0)  # from now on jumped past: no 1 ms rest follows
    assert runs.truncates(7)
    for length in (7 * ms, ms):
        for _ in range(10):
            runs.round(8, ("poll", 0), length, effects=0)
        assert not runs.truncates(8)
        runs.other_wait(8)
    assert not runs.truncates(9)  # no run at all


def test_an_effect_another_wait_or_another_call_between_short_waits_starts_over() -> None:
    """An event loop's short timeouts come between its long waits (redis' 100 ms tick) or
    with work between them: never held."""
    runs = ShortRuns()
    for round_ in range(50):
        assert not runs.round(7, SHORT, TEN_MS, effects=round_)  # an effect every round
    for _ in range(50):
        assert not runs.round(8, ("epoll_wait", 0), TEN_MS, effects=0)
        runs.other_wait(8)  # redis: a 100 ms wait between
    for round_ in range(50):
        call = ("poll", 0) if round_ % 2 else SHORT
        assert not runs.round(9, call, TEN_MS, effects=0)


def test_an_absolute_tick_whose_rounds_come_back_late_is_still_one_countdown() -> None:
    """What is left of a deadline stepped by 100 ms is 100 ms less the time the loop took to
    come back: 99.4 ms on an idle machine, 94.6 or 80 ms on a busy one. Still the same round
    (CI failed when the lengths were rounded to 10 ms and crossed 95 ms); a round three times
    as long is another wait."""
    runs = ShortRuns()
    sleep = ("clock_nanosleep", "sleep")
    lengths = [99_400_000, 94_600_000, 80_000_000, 96_100_000, 90_000_000, 99_000_000]
    held = [runs.round(7, sleep, length, effects=0) for length in lengths]
    assert held == [False] * REPEAT_LIMIT + [True]
    assert not runs.round(7, sleep, 300_000_000, effects=0)  # starts over
    assert not runs.round(7, sleep, 100_000_000, effects=0)


def test_a_round_cut_short_by_a_busy_machine_goes_on_the_run_a_longer_one_starts_over() -> None:
    """A Go ticker's 200 ms rounds came to 144, 111 and 60 ms when its thread got a CPU late
    (CI failed `go-ticker-select` when each such round started the run over and the rounds at
    real pace ended the run idle): any shorter round is the same round late. The period is the
    longest round so far, so a late first round does not make the full ones too long; a
    round more than a quarter over the period is another wait."""
    runs = ShortRuns()
    sleep = ("epoll_pwait", "sleep")
    ms = 1_000_000
    lengths = [144 * ms, 175 * ms, 199 * ms, 60 * ms, 111 * ms, 199 * ms]
    held = [runs.round(7, sleep, length, effects=0) for length in lengths]
    assert held == [False] * REPEAT_LIMIT + [True]
    assert runs.runs[7].length_ns == 199 * ms
    assert runs.round(7, sleep, 12 * ms, effects=0)
    assert not runs.round(7, sleep, 260 * ms, effects=0)  # starts over
    assert runs.runs[7].rounds == 1


def _time_only() -> bool:  # the probe's answer for a sleep
    return True


def test_one_short_wait_after_a_round_is_its_rest_a_second_is_a_wait_of_its_own() -> None:
    """Go's netpoller waits 99 ms (its timeout truncated to ms), then 1 ms for the rest: that
    tail does not start a run of its own. Python's `time.sleep(0.01)` whose one round came to
    10.2 ms must not be stuck in that sleep run: its next short waits start their own."""
    runs = ShortRuns()
    sleep = ("epoll_pwait", "sleep")
    assert not runs.tail(7, sleep, effects=0, time_only=_time_only)  # no run yet
    runs.round(7, sleep, 99_000_000, effects=0)
    assert not runs.tail(7, ("futex", "sleep"), effects=0, time_only=_time_only)
    assert not runs.tail(7, sleep, effects=1, time_only=_time_only)  # something took effect since
    assert runs.tail(7, sleep, effects=0, time_only=_time_only)
    assert not runs.tail(7, sleep, effects=0, time_only=_time_only)  # a second in a row
    runs.round(7, sleep, 99_000_000, effects=0)
    assert runs.tail(7, sleep, effects=0, time_only=_time_only)
    runs.other_wait(7)
    assert not runs.tail(7, sleep, effects=0, time_only=_time_only)


def _none_waiting(tid: int) -> bool:
    return False


FIFTH = ("clock_nanosleep", "sleep"), 200_000_000, 0  # a round: signature, length, effects


def test_a_round_in_a_new_thread_or_process_takes_over_its_kin_s_run() -> None:
    """A `threading.Timer` chain waits each link in a new thread of the process; a shell's
    `sleep 0.2` is a new child of the shell each round. Either takes over the run of the
    thread before it, so the countdown is held after REPEAT_LIMIT rounds as in one thread."""
    sleep, fifth, _ = FIFTH
    for kin in [lambda tid: (100, 1), lambda tid: (tid, 100)]:  # threads of 100, children of 100
        runs = ShortRuns()
        held = []
        for tid in range(101, 101 + REPEAT_LIMIT + 2):
            assert runs.adopt(tid, kin(tid), FIFTH, _none_waiting) == (tid - 1 if tid > 101 else 0)
            held.append(runs.round(tid, sleep, fifth, effects=0))
        assert held == [False] * REPEAT_LIMIT + [True, True]
        assert list(runs.runs) == [101 + REPEAT_LIMIT + 1]  # the run moved; no run left behind


def test_a_run_its_thread_left_for_another_short_wait_is_taken_over_by_the_next_link() -> None:
    """The last link of a `threading.Timer` chain starts the next link, then waits up to 5 ms
    for the GIL (another kind of round), often before the next link's wait is trapped. The
    chain's run is left, not ended: the next link takes it over, and the thread that waited
    for the GIL, back in a chain's round, takes over a left run rather than starting over."""
    sleep, fifth, _ = FIFTH
    gil = (("futex", 0), 4_000_000, 0)
    runs = ShortRuns()
    for tid in range(101, 101 + REPEAT_LIMIT):
        runs.adopt(tid, (100, 1), FIFTH, _none_waiting)
        runs.round(tid, sleep, fifth, effects=0)
    last = 100 + REPEAT_LIMIT
    assert not runs.continues(last, *gil)
    assert runs.adopt(last, (100, 1), gil, _none_waiting) == 0  # its GIL wait: a run of its own
    runs.round(last, gil[0], gil[1], effects=0)
    assert runs.adopt(last + 1, (100, 1), FIFTH, _none_waiting) == last
    assert runs.round(last + 1, sleep, fifth, effects=0)  # the chain's countdown goes on
    # a thread whose own run is of GIL waits takes over the chain's left run as well
    runs.adopt(last + 1, (100, 1), gil, _none_waiting)
    runs.round(last + 1, gil[0], gil[1], effects=0)
    assert not runs.continues(last + 1, *FIFTH)
    assert runs.adopt(last + 1, (100, 1), FIFTH, _none_waiting) == last + 1
    assert runs.round(last + 1, sleep, fifth, effects=0)
    assert runs.runs[last + 1].rounds == REPEAT_LIMIT + 2


def test_a_run_is_not_taken_over_by_another_wait_a_stranger_or_from_a_thread_still_waiting() -> (
    None
):
    """Go's sysmon (a 20 µs nanosleep) in a thread beside the countdown's must leave its run
    alone (taking it over started the countdown over at each turn: every Go form ran idle);
    two threads each counting down keep their runs; a process of another parent starts its
    own; the init process's children (parent 1, or 0: unknown) are no one's siblings."""
    sleep, fifth, _ = FIFTH
    runs = ShortRuns()
    runs.adopt(11, (10, 1), FIFTH, _none_waiting)
    for _ in range(REPEAT_LIMIT):
        runs.round(11, sleep, fifth, effects=0)
    others = [
        (("nanosleep", 0), 20_000, 0),  # another call
        (sleep, 400_000_000, 0),  # a longer round
        (sleep, fifth, 1),  # an effect since
    ]
    for tid, other in enumerate(others, start=12):
        assert runs.adopt(tid, (10, 1), other, _none_waiting) == 0
    assert runs.adopt(15, (10, 1), FIFTH, lambda tid: tid == 11) == 0  # 11 waits: its own
    assert runs.adopt(21, (21, 20), FIFTH, _none_waiting) == 0  # another parent's
    assert runs.adopt(31, (31, 1), FIFTH, _none_waiting) == 0
    assert runs.adopt(32, (32, 0), FIFTH, _none_waiting) == 0
    assert runs.runs[11].rounds == REPEAT_LIMIT
    assert all(runs.runs[tid].rounds == 0 for tid in (12, 13, 14, 15, 21, 31, 32))


def test_removing_a_wait_takes_it_out_of_the_schedule() -> None:
    schedule = Schedule()
    schedule.add(Deadline(key=7, at=NS, pid=1))
    assert schedule.remove(7) is not None and schedule.remove(7) is None
    assert schedule.next_jump() is None


def test_a_timeout_in_whole_milliseconds_jumps_past_its_deadline_but_never_past_another() -> None:
    """Go's netpoller asks `epoll_pwait` for 9 ms of a 9.97 ms timer: a jump to the deadline
    alone would leave it 0.97 ms to wait again (one more trapped call per round). Its slack
    takes the jump up to 1 ms further, but another wait due in between is not jumped over."""
    ms = NS // 1000
    schedule = Schedule()
    go = schedule.add(Deadline(key=1, at=9 * ms, pid=10, slack=ms - 1))
    assert schedule.jump_target(go) == 10 * ms - 1
    schedule.add(Deadline(key=2, at=9 * ms + ms // 2, pid=11))  # another process's, sooner
    assert schedule.jump_target(go) == 9 * ms + ms // 2
    schedule.add(Deadline(key=3, at=9 * ms, pid=12))  # one due with it: no slack at all
    assert schedule.jump_target(go) == 9 * ms
    assert schedule.jump_target(schedule.pending[3]) == 9 * ms
