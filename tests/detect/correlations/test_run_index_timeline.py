"""The run index's processes are summaries of the timeline's program images."""

from __future__ import annotations

from detonate.detect.correlations.run_index import index_of
from detonate.model.timeline import ImageId

from .stream import Stream


def test_proc_summarises_its_images_in_order() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.fork(1, 2)
    s.exec(2, "nope", ok=False)
    s.exec(2, "wget", "-q", "http://x.test/", stdout="pipe:[3]")
    s.exec(2, "sh", path="/bin/sh")
    s.exit(2)
    view = s.view()
    index = index_of(view)
    proc = index.procs[2]
    assert view.timeline is index.timeline  # one model, shared by every detector of the run
    assert [image.id for image in proc.images] == [ImageId(2, 0), ImageId(2, 1), ImageId(2, 2)]
    assert proc.ppid == 1
    assert proc.fork_seq == 1
    assert [e.seq for e in proc.execs] == [2, 3, 4]  # the failed one included, in order
    assert proc.argv == ("sh",) and proc.name == "sh"
    assert proc.stdout == "pipe:[3]"  # kept from the exec that set it
    assert proc.exit_seq == 5
    assert index.argv_at(2, 3) == ("wget", "-q", "http://x.test/")
    assert index.argv_at(2, 2) == ("sh", "/entry.sh")  # still the forked copy of the shell
    assert index.pipe_readers == {}


def test_a_pid_seen_only_in_its_events_is_a_process_of_the_index() -> None:
    s = Stream()
    s.exec(1, "sh", "/entry.sh", path="/bin/sh")
    s.write(9, "/tmp/x")  # a thread or a pid whose fork the trace missed
    index = index_of(s.view())
    assert 9 in index.procs
    assert index.procs[9].images[0].id == ImageId(9, 0)
