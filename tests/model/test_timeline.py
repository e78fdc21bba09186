"""The process timeline: program images, attribution of events, parents, order."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from detonate.model.events import (
    Event,
    FileOpenedForWrite,
    NetworkConnected,
    ProcessExecuted,
    ProcessExited,
    ProcessForked,
)
from detonate.model.runtime import ProcessInfo
from detonate.model.timeline import BEFORE_TRACE, ImageId, Timeline


def _exec(seq: int, pid: int, path: str, *args: str, ok: bool = True) -> ProcessExecuted:
    return ProcessExecuted(
        seq=seq, ts=seq / 10, sample_ts=seq, pid=pid, path=path, argv=(path, *args), exe=path,
        succeeded=ok, error="" if ok else "ENOENT",
    )  # fmt: skip


def _write(seq: int, pid: int, path: str) -> FileOpenedForWrite:
    return FileOpenedForWrite(seq=seq, ts=seq / 10, pid=pid, path=path, flags="O_WRONLY")


def _fork(seq: int, pid: int, child: int) -> ProcessForked:
    return ProcessForked(seq=seq, ts=seq / 10, pid=pid, child_pid=child)


def _exit(seq: int, pid: int) -> ProcessExited:
    return ProcessExited(seq=seq, ts=seq / 10, pid=pid, exit_code=0)


def test_exec_starts_a_new_image_of_the_same_pid() -> None:
    # sh writes /tmp/kdevtmpfsi with printf, then execs it: two images of pid 7
    events = [
        _exec(0, 7, "/bin/sh", "-c", "printf x > /tmp/k; exec /tmp/k"),
        _write(1, 7, "/tmp/k"),
        _exec(2, 7, "/tmp/k"),
        NetworkConnected(seq=3, ts=0.3, pid=7, family="AF_INET", address="192.0.2.1", port=3333),
    ]
    timeline = Timeline.of(events)
    writer, miner = timeline.image_of(events[1]), timeline.image_of(events[3])
    assert writer is not None and miner is not None
    assert writer.id == ImageId(7, 1) and writer.name == "sh"
    assert miner.id == ImageId(7, 2) and miner.name == "k"
    assert miner.previous == writer.id
    assert writer.end_seq == 2 and not writer.exited
    assert timeline.image_of(events[2]) is miner  # an exec belongs to the image it starts


def test_failed_exec_keeps_the_image() -> None:
    events = [_exec(0, 7, "/bin/sh"), _exec(1, 7, "/nope", ok=False), _write(2, 7, "/tmp/a")]
    timeline = Timeline.of(events)
    image = timeline.image_of(events[2])
    assert image is not None and image.id == ImageId(7, 1)
    assert [e.seq for e in image.failed_execs] == [1]
    assert timeline.image_of(events[1]) is image


def test_forked_child_is_a_copy_of_the_forking_image_until_it_execs() -> None:
    events = [
        _exec(0, 1, "/bin/sh"),
        _fork(1, 1, 2),
        _write(2, 2, "/tmp/out"),  # the `> /tmp/out` of the child, before its exec
        _exec(3, 2, "/usr/bin/wget", "http://x.test/"),
        _exec(4, 1, "/bin/busybox"),  # the parent execs away after the fork
        _exit(5, 2),
    ]
    timeline = Timeline.of(events)
    copy, wget = timeline.images_of(2)
    assert copy.id == ImageId(2, 0) and copy.name == "sh" and not copy.execed
    assert copy.parent == ImageId(1, 1)
    assert wget.parent == ImageId(1, 1)  # every generation keeps the image that forked it
    assert wget.exited and wget.end_seq == 5
    assert timeline.image_of(events[5]) is wget
    assert timeline.children(ImageId(1, 1)) == (ImageId(2, 0),)


def test_lineage_shows_each_ancestor_as_it_ran_then() -> None:
    events = [
        _exec(0, 1, "/bin/sh"),
        _fork(1, 1, 2),
        _exec(2, 2, "/usr/bin/curl"),
        _exec(3, 1, "/usr/bin/xmrig"),
    ]
    timeline = Timeline.of(events)
    assert [i.name for i in timeline.lineage(2, 2)] == ["curl", "sh"]
    assert [i.name for i in timeline.lineage(2, 3)] == ["curl", "xmrig"]
    assert [i.name for i in timeline.lineage(2)] == ["curl", "xmrig"]


def test_child_traced_before_its_parents_fork_returned() -> None:
    events = [_exec(0, 1, "/bin/sh"), _write(1, 2, "/tmp/a"), _fork(2, 1, 2)]
    timeline = Timeline.of(events)
    (child,) = timeline.images_of(2)
    assert child.start_seq == 1 and child.parent == ImageId(1, 1)
    assert timeline.ppid(2) == 1


def test_process_table_adds_processes_and_parents_no_event_showed() -> None:
    info = ProcessInfo(pid=1, ppid=0, exe="/sbin/init", argv=("/sbin/init",), start=0.0)
    child = ProcessInfo(pid=5, ppid=1, exe="/bin/app", argv=("app",), start=0.5)
    events = [_write(3, 5, "/tmp/a")]
    timeline = Timeline.of(events, [info, child])
    (init,) = timeline.images_of(1)
    assert init.start_seq == BEFORE_TRACE and init.name == "init"
    image = timeline.image_of(events[0])
    assert image is not None and image.name == "app" and image.parent == init.id


def test_pid_reuse_after_exit_is_a_new_image() -> None:
    events = [_fork(0, 1, 2), _exit(1, 2), _fork(2, 1, 2), _write(3, 2, "/tmp/a")]
    timeline = Timeline.of(events)
    first, second = timeline.images_of(2)
    assert first.id != second.id
    assert timeline.image_of(events[3]) is second


def test_simulator_events_belong_to_no_image() -> None:
    event = NetworkConnected(seq=0, ts=0.0, pid=0, family="AF_INET", address="192.0.2.1", port=80)
    assert Timeline.of([event]).image_of(event) is None


# -- properties over generated runs -------------------------------------------------------------

PIDS = st.integers(min_value=1, max_value=6)
STEP = st.tuples(st.sampled_from(["fork", "exec", "fail", "write", "exit"]), PIDS, PIDS)


def _run(steps: list[tuple[str, int, int]]) -> list[Event]:
    """A plausible stream: a pid acts only after it was forked (pid 1 is the first), forks only
    new pids, and does nothing after its exit."""
    events: list[Event] = []
    alive, dead = {1}, set()
    for what, pid, other in steps:
        if pid not in alive:
            continue
        seq = len(events)
        if what == "fork":
            if other in alive or other in dead:
                continue
            events.append(_fork(seq, pid, other))
            alive.add(other)
        elif what in ("exec", "fail"):
            events.append(_exec(seq, pid, f"/bin/p{seq}", ok=what == "exec"))
        elif what == "write":
            events.append(_write(seq, pid, f"/tmp/{seq}"))
        elif pid != 1:
            events.append(_exit(seq, pid))
            alive.discard(pid)
            dead.add(pid)
    return events


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=60))
def test_every_event_belongs_to_exactly_one_image(steps: list[tuple[str, int, int]]) -> None:
    events = _run(steps)
    timeline = Timeline.of(events)
    for event in events:
        image = timeline.image_of(event)
        assert image is not None and image.pid == event.pid
        holding = [i for i in timeline.images_of(event.pid) if i.holds(event.seq)]
        assert holding == [image]


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=60))
def test_images_of_a_pid_are_ordered_and_do_not_overlap(steps: list[tuple[str, int, int]]) -> None:
    timeline = Timeline.of(_run(steps))
    for pid in timeline.pids:
        images = timeline.images_of(pid)
        for earlier, later in itertools.pairwise(images):
            assert earlier.generation < later.generation
            assert earlier.end_seq is not None and earlier.end_seq <= later.start_seq
            assert earlier.start_seq < later.start_seq


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=60))
def test_parent_image_started_before_its_child(steps: list[tuple[str, int, int]]) -> None:
    events = _run(steps)
    timeline = Timeline.of(events)
    forked = {e.child_pid for e in events if isinstance(e, ProcessForked)}
    for image in timeline.images.values():
        if image.pid in forked:
            assert image.parent is not None
        if image.parent is not None:
            parent = timeline.images[image.parent]
            # the fork may be the first the trace saw of the parent: same seq, never later
            assert parent.start_seq <= image.start_seq
            assert parent.pid != image.pid
            if image.previous is None and image.pid in forked:
                assert parent.holds(image.start_seq)  # the parent ran it when it forked


@settings(max_examples=200, deadline=None)
@given(st.lists(STEP, max_size=60))
def test_an_exec_begins_exactly_one_image(steps: list[tuple[str, int, int]]) -> None:
    events = _run(steps)
    timeline = Timeline.of(events)
    execs = [e for e in events if isinstance(e, ProcessExecuted) and e.succeeded]
    began = [i.exec_event for i in timeline.images.values() if i.exec_event is not None]
    assert sorted(e.seq for e in execs) == sorted(e.seq for e in began)


@settings(max_examples=200, deadline=None)
@given(st.lists(STEP, max_size=60))
def test_a_cursor_walking_the_stream_gives_the_timelines_lineage(
    steps: list[tuple[str, int, int]],
) -> None:
    events = _run(steps)
    timeline = Timeline.of(events)
    cursor = timeline.cursor()
    for event in events:
        cursor.at(event.seq)
        assert cursor.lineage(event.pid) == timeline.lineage(event.pid, event.seq)
