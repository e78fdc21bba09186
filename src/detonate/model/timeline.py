"""The run's processes as program images over time: the one process model of every detector.

A *program image* is (pid, exec generation): what one pid ran between two successful execs.
A shell that writes a file with `printf` and later `exec`s a miner is two images of one pid;
what the shell did says nothing of the miner. Generation 0 is what a pid runs before its first
successful exec (a forked copy of its parent, or a process already running when the trace
began; a pid first seen at its exec has none); each successful exec starts the next
generation. A failed exec changes nothing.

Every event with a pid belongs to exactly one image: the one its pid ran at that point of the
stream (the latest image of the pid that began at or before the event's `seq`). An exec
belongs to the image it starts; a fork, a failed exec and an exit to the image that made them.
Simulator events (pid 0 until attributed) belong to none.

    timeline = Timeline.of(events, processes)
    image = timeline.image_of(event)              # who did it, as it was then
    timeline.lineage(event.pid, event.seq)        # it and its ancestors, as they were then
    timeline.image_at(pid, seq)                   # what a pid ran at a point of the stream

Order is the stream's `seq` (strace's order of the calls); times are kept in both clocks:
`ts` (wall, since the container started) and `sample_ts` (the sample's, waits skipped).
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from detonate.model.events import Event, ProcessExecuted, ProcessExited, ProcessForked
from detonate.model.runtime import ProcessInfo

BEFORE_TRACE = -1  # start_seq of a process the trace found already running (no event yet)
MAX_ANCESTORS = 64  # a broken parent chain (a cycle in bad input) stops here


class ImageId(NamedTuple):
    pid: int
    generation: int  # successful execs of the pid before this image began (pid reuse adds one)


@dataclass
class ProgramImage:
    """What one pid ran from one successful exec (or its fork) to the next (or its exit)."""

    id: ImageId
    start_seq: int  # the exec that began it, the fork that made it, or its first event
    start_ts: float
    start_sample_ts: float = 0.0
    parent: ImageId | None = None  # the image that forked the pid (its generations share it)
    previous: ImageId | None = None  # the pid's image this one replaced by exec
    exec_event: ProcessExecuted | None = None  # None: a forked copy, or running before the trace
    fork_event: ProcessForked | None = None  # the fork that made the process (its first image)
    argv: tuple[str, ...] = ()
    exe: str = ""  # the program file ("" when unknown: a forked copy inherits its parent's)
    path: str = ""  # the exec's path as requested
    exe_resolved: str = ""
    exe_sha256: str = ""  # content hash of the executable when the tracer read it
    applet: str = ""
    stdin: str = ""  # fds 0/1 as the exec left them ("pipe:[4711]", a path); "" unknown
    stdout: str = ""
    # where it ended: the next image's start (exec) or the pid's exit; None while it ran
    end_seq: int | None = None
    end_ts: float | None = None
    end_sample_ts: float | None = None
    exited: bool = False  # the pid exited in this image (else it exec'd away or never ended)
    failed_execs: list[ProcessExecuted] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.id.pid

    @property
    def generation(self) -> int:
        return self.id.generation

    @property
    def execed(self) -> bool:
        """Began with a successful exec (not a forked copy running its parent's program)."""
        return self.exec_event is not None

    @property
    def name(self) -> str:
        """The name it runs as: busybox applet, else argv[0]'s base name, else the exe's."""
        if self.applet:
            return self.applet
        first = self.argv[0] if self.argv else ""
        name = posixpath.basename(first) if first else posixpath.basename(self.exe)
        return name.removeprefix("-")  # login shells: "-sh"

    def holds(self, seq: int) -> bool:
        """`seq` happened while this image ran (its exit included)."""
        if seq < self.start_seq:
            return False
        if self.end_seq is None:
            return True
        return seq <= self.end_seq if self.exited else seq < self.end_seq


class Timeline:
    """Program images of one run, built in one pass over its events (linear)."""

    def __init__(self) -> None:
        self.images: dict[ImageId, ProgramImage] = {}
        self._by_pid: dict[int, list[ProgramImage]] = {}
        self._starts: dict[int, list[int]] = {}  # pid → its images' start_seq (for bisect)
        self._of_seq: dict[int, ImageId] = {}  # event seq → the image it belongs to
        self._children: dict[ImageId, list[ImageId]] = {}
        # pid → its parent: the tracer's process table, else the traced fork, else the ppid
        # an event of the pid reported
        self._table_ppid: dict[int, int] = {}
        self._ppid: dict[int, int] = {}

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def of(cls, events: Iterable[Event], processes: Iterable[ProcessInfo] = ()) -> Timeline:
        """The timeline of a run: its events in stream order, and the process table the
        tracer kept (argv and parents of processes whose events say less)."""
        timeline = cls()
        processes = tuple(processes)
        timeline._table_ppid = {info.pid: info.ppid for info in processes if info.ppid}
        for event in events:
            timeline._take(event)
        for info in processes:
            timeline._know(info)
        timeline._link_parents()
        return timeline

    def _take(self, event: Event) -> None:
        if not event.pid:
            return
        if event.ppid and event.pid not in self._ppid:
            self._ppid[event.pid] = event.ppid
        if isinstance(event, ProcessExecuted) and event.succeeded:
            current = self._latest(event.pid)
            if current is not None and current.start_seq > event.seq:
                current = None  # bad order: keep the images of one pid in stream order
            image = self._open(event.pid, event, previous=current)
            image.exec_event = event
            image.argv, image.exe, image.path = event.argv, event.exe, event.path
            image.exe_resolved, image.exe_sha256 = event.exe_resolved, event.exe_sha256
            image.applet, image.stdin, image.stdout = event.applet, event.stdin, event.stdout
            if current is not None:
                image.parent = current.parent
            self._of_seq[event.seq] = image.id
            return
        image = self._current(event)
        self._of_seq[event.seq] = image.id
        if isinstance(event, ProcessExecuted):
            image.failed_execs.append(event)
        elif isinstance(event, ProcessExited):
            _end(image, event)
            image.exited = True
        elif isinstance(event, ProcessForked) and event.succeeded and event.child_pid:
            self._forked(image, event)

    def _forked(self, parent: ProgramImage, event: ProcessForked) -> None:
        child = self._latest(event.child_pid)
        if child is None or (child.exited and child.end_seq is not None):
            # a new process (or a pid reused after its exit): a copy of the forking image
            child = self._open(event.child_pid, event, previous=None)
            child.fork_event = event
            child.argv, child.exe, child.applet = parent.argv, parent.exe, parent.applet
            child.path = parent.path
            child.exe_resolved, child.exe_sha256 = parent.exe_resolved, parent.exe_sha256
        else:
            # the child's first calls were traced before its parent's fork returned
            first = self._by_pid[event.child_pid][0]
            first.fork_event = event
            if first.start_seq > event.seq:
                first.start_seq, first.start_ts = event.seq, event.ts
                first.start_sample_ts = event.sample_ts
                self._starts[event.child_pid][0] = event.seq
        for image in self._generations_since_fork(event.child_pid):
            image.parent = parent.id
        self._ppid[event.child_pid] = parent.pid

    def _generations_since_fork(self, pid: int) -> Iterator[ProgramImage]:
        images = self._by_pid[pid]
        index = len(images) - 1
        while index > 0 and images[index].previous is not None:
            index -= 1
        yield from images[index:]

    def _current(self, event: Event) -> ProgramImage:
        """The image `event`'s pid runs at its seq, opened on the pid's first event."""
        images = self._by_pid.get(event.pid)
        if images and images[-1].start_seq <= event.seq:
            return images[-1]  # the common case: events come in stream order
        found = self.image_at(event.pid, event.seq)
        if found is not None:
            return found
        latest = self._latest(event.pid)
        if latest is not None:
            return latest  # out of stream order: the pid's last image
        image = self._open(event.pid, event, previous=None)
        image.argv, image.exe = event.argv, event.exe
        return image

    def _open(self, pid: int, event: Event, previous: ProgramImage | None) -> ProgramImage:
        images = self._by_pid.setdefault(pid, [])
        latest = images[-1] if images else None
        if previous is not None:
            generation = previous.generation + 1
        elif latest is not None:
            generation = latest.generation + 1  # pid reuse: ids stay unique
        else:
            generation = 1 if isinstance(event, ProcessExecuted) else 0
        if latest is not None and latest.end_seq is None:
            latest.end_seq, latest.end_ts, latest.end_sample_ts = (
                event.seq,
                event.ts,
                event.sample_ts,
            )
        image = ProgramImage(
            ImageId(pid, generation),
            start_seq=event.seq,
            start_ts=event.ts,
            start_sample_ts=event.sample_ts,
            previous=previous.id if previous is not None else None,
        )
        images.append(image)
        self._starts.setdefault(pid, []).append(event.seq)
        self.images[image.id] = image
        return image

    def _know(self, info: ProcessInfo) -> None:
        """The tracer's process table: a process no event showed, and parents no fork did."""
        if info.pid in self._by_pid:
            image = self._by_pid[info.pid][-1]
            if not image.argv:
                image.argv, image.exe, image.applet = info.argv, info.exe, info.applet
            if not image.stdin and not image.stdout and not image.execed:
                image.stdin, image.stdout = info.stdin, info.stdout
            return
        image = ProgramImage(
            ImageId(info.pid, 0),
            start_seq=BEFORE_TRACE,
            start_ts=info.start,
            argv=info.argv,
            exe=info.exe,
            exe_resolved=info.exe_resolved,
            exe_sha256=info.exe_sha256,
            applet=info.applet,
            stdin=info.stdin,
            stdout=info.stdout,
            end_ts=info.end,
            exited=info.end is not None,
        )
        self._by_pid[info.pid] = [image]
        self._starts[info.pid] = [BEFORE_TRACE]
        self.images[image.id] = image

    def _link_parents(self) -> None:
        """Parents of processes no traced fork made (the container's init, a pid whose fork
        the tracer missed): the image its reported parent ran when it was first seen."""
        for pid, images in self._by_pid.items():
            ppid = self.ppid(pid)
            for image in images:
                if image.parent is None and ppid and ppid != pid:
                    first = self._generations_first(pid, image)
                    parent = self.image_at(ppid, first.start_seq)
                    if parent is None and ppid in self._by_pid:
                        parent = self._by_pid[ppid][0]
                    image.parent = parent.id if parent is not None else None
                if image.parent is not None:
                    self._children.setdefault(image.parent, [])
                    if image.previous is None:
                        self._children[image.parent].append(image.id)
        for children in self._children.values():
            children.sort(key=lambda child: self.images[child].start_seq)

    def _generations_first(self, pid: int, image: ProgramImage) -> ProgramImage:
        while image.previous is not None:
            image = self.images[image.previous]
        return image

    # -- queries -------------------------------------------------------------------------------

    def _latest(self, pid: int) -> ProgramImage | None:
        images = self._by_pid.get(pid)
        return images[-1] if images else None

    def image_at(self, pid: int, seq: int) -> ProgramImage | None:
        """The image `pid` ran at `seq` (its last one after it exited); None before it began."""
        starts = self._starts.get(pid)
        if not starts:
            return None
        at = bisect.bisect_right(starts, seq)
        return self._by_pid[pid][at - 1] if at else None

    def image_of(self, event: Event) -> ProgramImage | None:
        """The image that made `event` (None for simulator events without a pid)."""
        found = self._of_seq.get(event.seq)
        if found is not None and found.pid == event.pid:
            return self.images[found]
        return self.image_at(event.pid, event.seq) if event.pid else None

    def images_of(self, pid: int) -> tuple[ProgramImage, ...]:
        """The pid's images in order (generation and start)."""
        return tuple(self._by_pid.get(pid, ()))

    def last(self, pid: int) -> ProgramImage | None:
        """What the pid ran at the end of the run (or when it exited)."""
        return self._latest(pid)

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(self._by_pid)

    def ppid(self, pid: int) -> int:
        """The parent of `pid` as the tracer's process table has it, else the pid that forked
        it, else the one its events reported; 0 when unknown."""
        return self._table_ppid.get(pid) or self._ppid.get(pid, 0)

    def children(self, image: ImageId) -> tuple[ImageId, ...]:
        """The first images of the processes `image` forked, in the order they began."""
        return tuple(self._children.get(image, ()))

    def lineage(
        self, pid: int, seq: int | None = None, limit: int = MAX_ANCESTORS
    ) -> list[ProgramImage]:
        """`pid`'s image and each ancestor's, nearest first, as each ran at `seq` (an ancestor
        that exited by then: its last image; `seq` None: at the end of the run). It stops at
        an ancestor not yet seen at `seq`: what the stream had not shown by then."""
        found: list[ProgramImage] = []
        seen: set[int] = set()
        while pid and pid not in seen and len(found) < limit:
            seen.add(pid)
            image = self._latest(pid) if seq is None else self.image_at(pid, seq)
            if image is None:
                break
            found.append(image)
            pid = self.ppid(pid)
        return found

    def cursor(self) -> Cursor:
        """A walk over the stream in order: `lineage` at each event for the cost of dict
        lookups (the rule engine asks it for every event)."""
        return Cursor(self)


class Cursor:
    """The images each pid runs at one point of the stream, moved forward event by event:
    `at(seq)` then `lineage(pid)` equals `Timeline.lineage(pid, seq)`."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._starts = sorted(timeline.images.values(), key=lambda image: image.start_seq)
        self._next = 0
        self._running: dict[int, ProgramImage] = {}

    def at(self, seq: int) -> None:
        """Move to `seq` (never back: a cursor walks the stream once, in order)."""
        starts, position = self._starts, self._next
        while position < len(starts) and starts[position].start_seq <= seq:
            self._running[starts[position].pid] = starts[position]
            position += 1
        self._next = position

    def lineage(self, pid: int, limit: int = MAX_ANCESTORS) -> list[ProgramImage]:
        found: list[ProgramImage] = []
        seen: set[int] = set()
        while pid and pid not in seen and len(found) < limit:
            seen.add(pid)
            image = self._running.get(pid)
            if image is None:
                break
            found.append(image)
            pid = self.timeline.ppid(pid)
        return found


def _end(image: ProgramImage, event: Event) -> None:
    image.end_seq, image.end_ts, image.end_sample_ts = event.seq, event.ts, event.sample_ts
