"""Listing processes without ps (T1057): a /proc walk, whatever walks it. Opening /proc as a
directory and reading another process's comm, cmdline, stat or status are watched reads; the
walker's own /proc/PID files are not, and a run that walks nothing has none."""

from __future__ import annotations

from pathlib import Path

import pytest

from detonate.detect.correlations.discovery import Discovery
from detonate.detect.interface import RunView
from detonate.model.events import FileOpenedForRead
from detonate.model.filesystem import Rootfs
from detonate.model.watched_reads import PROCESS_LIST, read_kind
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

from .busybox_image import FAST, PROGRESS, image_running
from .test_containment import assert_nothing_left

# pid 1 in the container is host 100; its child, container pid 7, is host 101.
TRACE = """\
100 1000.1 execve("/usr/local/bin/walk", ["walk"], 0x1 /* 1 var */) = 0
100 1000.2 clone(child_stack=NULL, flags=SIGCHLD, child_tidptr=0x1) = 7 /* 101 in strace's PID NS */
101 1000.3 execve("/bin/sleep", ["sleep", "5"], 0x1 /* 1 var */) = 0
100 1000.4 openat(AT_FDCWD</>, "/proc", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3</proc>
100 1000.5 openat(AT_FDCWD</>, "/proc/1/comm", O_RDONLY) = 4</proc/1/comm>
100 1000.6 openat(AT_FDCWD</>, "/proc/7/comm", O_RDONLY) = 4</proc/7/comm>
100 1000.7 openat(AT_FDCWD</>, "/proc/7/status", O_RDONLY) = 4</proc/7/status>
100 1000.8 openat(AT_FDCWD</>, "/proc/self/stat", O_RDONLY) = 4</proc/1/stat>
"""


def test_a_proc_walk_is_watched_but_not_the_walkers_own_files() -> None:
    interpreter = TraceInterpreter(init_pid=100, t0=1000.0)
    interpreter.feed_lines(TRACE.splitlines(keepends=True))
    summary = interpreter.summary()
    reads = [e.path for e in summary.events if isinstance(e, FileOpenedForRead)]
    assert reads == ["/proc", "/proc/7/comm", "/proc/7/status"]
    assert {read_kind(p) for p in ("/proc/", "/proc/12/cmdline", "/proc/12/task/13/stat")} == {
        PROCESS_LIST
    }
    assert read_kind("/proc/12/maps") == read_kind("/proc/sys") == ""


# the container check: the child (container pid 7, host 101) reads init's cgroup and mounts;
# init (a JVM, say) reads its own cgroup for its memory limit
CGROUP_TRACE = """\
100 1000.1 execve("/usr/bin/java", ["java", "-jar", "app.jar"], 0x1 /* 1 var */) = 0
100 1000.2 openat(AT_FDCWD</>, "/proc/self/cgroup", O_RDONLY) = 3</proc/1/cgroup>
100 1000.3 clone(child_stack=NULL, flags=SIGCHLD, child_tidptr=0x1) = 7 /* 101 in strace's PID NS */
101 1000.4 execve("/opt/check", ["/opt/check"], 0x1 /* 1 var */) = 0
101 1000.5 openat(AT_FDCWD</>, "/proc/1/cgroup", O_RDONLY) = 3</proc/1/cgroup>
101 1000.6 openat(AT_FDCWD</>, "/proc/1/mountinfo", O_RDONLY) = 3</proc/1/mountinfo>
"""


def test_another_processs_cgroup_read_is_a_container_check_but_not_a_runtimes_own() -> None:
    interpreter = TraceInterpreter(init_pid=100, t0=1000.0)
    interpreter.feed_lines(CGROUP_TRACE.splitlines(keepends=True))
    reads = [e for e in interpreter.summary().events if isinstance(e, FileOpenedForRead)]
    assert [(e.pid, e.path) for e in reads] == [(101, "/proc/1/cgroup"), (101, "/proc/1/mountinfo")]
    (found,) = Discovery().detect(RunView(events=interpreter.summary().events))
    assert (found.rule_id, found.technique) == ("discovery-system-information", "T1082")


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "script, walks",
    [
        # a hand-written walk: the shell's glob lists /proc, cat reads each command line
        ("sleep 3 & for d in /proc/[0-9]*; do cat $d/cmdline > /dev/null; done; kill $!", True),
        ("sleep 1 & ls /tmp > /dev/null; cat /etc/hostname; wait", False),
    ],
    ids=["walk", "no-walk"],
)
def test_a_proc_walk_in_a_real_run_is_process_discovery(
    busybox_rootfs: Rootfs, tmp_path: Path, script: str, walks: bool
) -> None:
    from detonate.sandbox.run import detonate

    result = detonate(
        image_running("/bin/sh", "-c", script), busybox_rootfs, FAST, tmp_path, PROGRESS
    )

    listed = [
        e.path
        for e in result.events
        if isinstance(e, FileOpenedForRead) and read_kind(e.path) == PROCESS_LIST
    ]
    found = {f.rule_id: f for f in Discovery().detect(RunView(events=result.events))}
    if walks:
        assert "/proc" in listed and any(p.endswith("/cmdline") for p in listed), listed
        assert found["discovery-processes"].technique == "T1057"
    else:
        assert listed == [] and "discovery-processes" not in found
    assert_nothing_left(result)
