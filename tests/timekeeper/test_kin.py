"""Whose thread a wait is in (memory.kin_of), read from /proc as the keeper reads the sample's:
a countdown whose rounds come from new threads or children (clock.ShortRuns.adopt) is told by
it."""

from __future__ import annotations

import os
import subprocess
import threading

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


def test_a_live_thread_names_its_process() -> None:
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
        assert memory.kin_of(tids[0]) == (os.getpid(), os.getppid())
    finally:
        done.set()
        thread.join()
