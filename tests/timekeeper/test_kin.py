"""Whose thread a wait is in (memory.kin_of), read from /proc as the keeper reads the sample's:
a countdown whose rounds come from new threads or children (clock.ShortRuns.adopt) is told by
it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from detonate.sandbox.timekeeper import memory


def test_a_thread_s_kin_is_its_process_and_that_process_s_parent() -> None:
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(threading.get_native_id()))
    thread.start()
    thread.join()
    main = threading.get_native_id()
    assert memory.kin_of(main) == (os.getpid(), os.getppid())
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert memory.kin_of(child.pid) == (child.pid, os.getpid())
    finally:
        child.kill()
        child.wait()
    assert memory.kin_of(child.pid) == (child.pid, 0)  # gone: /proc no longer says
    assert seen and memory.kin_of(seen[0]) == (seen[0], 0)


@contextlib.contextmanager
def a_live_thread() -> Iterator[int]:
    """The tid of a thread of this process that lives until the block ends (joined then)."""
    ready, done = threading.Event(), threading.Event()
    tids: list[int] = []

    def wait() -> None:
        tids.append(threading.get_native_id())
        ready.set()
        done.wait(10)

    thread = threading.Thread(target=wait)
    thread.start()
    try:
        assert ready.wait(10)
        yield tids[0]
    finally:
        done.set()
        thread.join()
        # join returns as the thread ends in Python; the kernel's task goes a moment later
        task, deadline = Path(f"/proc/self/task/{tids[0]}"), time.monotonic() + 5
        while task.exists() and time.monotonic() < deadline:
            time.sleep(0.001)


def test_a_live_thread_names_its_process() -> None:
    with a_live_thread() as tid:
        assert memory.kin_of(tid) == (os.getpid(), os.getppid())


def test_tgids_name_a_live_thread_s_process_and_not_a_gone_one() -> None:
    """memory.Tgids: the answer for a live thread is its process, asked again (from what it
    kept); once the thread is gone its tid is no longer taken for that process (the kernel may
    give the tid to another thread)."""
    tgids = memory.Tgids()
    with a_live_thread() as tid:
        assert tgids.of(tid) == os.getpid()
        assert tgids.of(tid) == os.getpid()
    assert tgids.of(tid) == tid  # gone: read again, /proc no longer says
