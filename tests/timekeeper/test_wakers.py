"""Which fds are a runtime's own wakers (an eventfd, a self-pipe), read from /proc of this
test's own process: a wait on nothing else is a sleep."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from detonate.sandbox.timekeeper import unixpeer
from detonate.sandbox.timekeeper.wakers import (
    PARKED_PAUSE_SECONDS,
    PARKED_TRIES,
    epoll_set,
    others_parked,
    own_wakers_only,
)

ME = os.getpid()


@pytest.fixture
def self_pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def test_an_eventfd_and_a_pipe_whose_both_ends_the_process_holds_are_its_own_wakers(
    self_pipe: tuple[int, int],
) -> None:
    event = os.eventfd(0)
    try:
        assert own_wakers_only(ME, [event, self_pipe[0]])
        assert own_wakers_only(ME, [])
    finally:
        os.close(event)


def test_a_pipe_another_process_writes_a_socket_or_a_file_is_input_from_elsewhere(
    self_pipe: tuple[int, int],
) -> None:
    r, w = os.pipe()
    writer = subprocess.Popen(["sleep", "30"], pass_fds=(w,))
    os.close(w)  # postgres' postmaster-death pipe: only the other process holds the write end
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        assert not own_wakers_only(ME, [r])
        assert not own_wakers_only(ME, [self_pipe[0], listener.fileno()])
        with open(__file__) as source:
            assert not own_wakers_only(ME, [source.fileno()])
        assert not own_wakers_only(ME, [9999])  # not open: cannot tell
    finally:
        writer.kill()
        writer.wait()
        os.close(r)
        listener.close()


def test_an_epoll_set_is_read_from_fdinfo(self_pipe: tuple[int, int]) -> None:
    event = os.eventfd(0)
    poller = select.epoll()
    listener = socket.socket()
    try:
        poller.register(event, select.EPOLLIN)
        poller.register(self_pipe[0], select.EPOLLIN)
        fds = epoll_set(ME, poller.fileno())
        assert sorted(fds or []) == sorted([event, self_pipe[0]])
        assert own_wakers_only(ME, fds or [])
        poller.register(listener.fileno(), select.EPOLLIN)
        assert not own_wakers_only(ME, epoll_set(ME, poller.fileno()) or [])
        assert epoll_set(ME, 9999) is None
    finally:
        poller.close()
        listener.close()
        os.close(event)


def test_a_socketpair_whose_both_ends_the_process_holds_is_its_own_waker() -> None:
    """asyncio's self-pipe: the kernel names each end the other's peer (sock_diag)."""
    ours, theirs = socket.socketpair()
    try:
        assert unixpeer.peer(ME, os.fstat(ours.fileno()).st_ino) == os.fstat(theirs.fileno()).st_ino
        assert own_wakers_only(ME, [ours.fileno()])
    finally:
        ours.close()
        theirs.close()


def test_a_unix_socket_whose_peer_another_process_holds_is_input_from_elsewhere() -> None:
    ours, theirs = socket.socketpair()
    other = subprocess.Popen(["sleep", "30"], pass_fds=(theirs.fileno(),))
    theirs.close()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(f"\0detonate-test-unixpeer-{ME}")
    listener.listen()
    try:
        assert not own_wakers_only(ME, [ours.fileno()])
        assert unixpeer.peer(ME, os.fstat(listener.fileno()).st_ino) is None  # no peer
        assert not own_wakers_only(ME, [listener.fileno()])
        assert unixpeer.peer(ME, 1) is None  # no such socket: the kernel's error
    finally:
        other.kill()
        other.wait()
        ours.close()
        listener.close()


# A process whose main thread and worker both end up blocked: main in an untimed futex wait (a
# join), the worker in what argv[1] says. Run apart from pytest, whose own threads would count.
CHILD = """
import os, select, socket, sys, threading
held = threading.Lock(); held.acquire()
worker = threading.Thread(target=held.acquire if sys.argv[1] != "read" else sys.stdin.read)
worker.start()
print(worker.native_id, flush=True)
if sys.argv[1] in ("epoll", "epoll-socket"):  # main: an idle event loop, as Node's
    loop = select.epoll()
    loop.register(os.eventfd(0), select.EPOLLIN)
    if sys.argv[1] == "epoll-socket":
        server = socket.create_server(("127.0.0.1", 0))  # kept: a closed fd leaves the set
        loop.register(server, select.EPOLLIN)
    loop.poll(-1)
joined = threading.Lock(); joined.acquire(); joined.acquire()
"""


def _child(worker: str) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-c", CHILD, worker]
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    worker_tid = int(child.stdout.readline())
    # Until both sit in their last calls (at start the worker waits for the GIL, a timed futex
    # wait): main in futex(…, NULL timeout), the worker in that or in read (0).
    worker_call = ("0", None) if worker == "read" else ("202", "0x0")
    main_call = ("232", "0xffffffff") if worker.startswith("epoll") else ("202", "0x0")
    wanted = {child.pid: main_call, worker_tid: worker_call}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        calls = {
            tid: Path(f"/proc/{child.pid}/task/{tid}/syscall").read_text().split() for tid in wanted
        }
        if all(
            fields[0] == call and (timeout is None or fields[4] == timeout)
            for tid, (call, timeout) in wanted.items()
            for fields in [calls[tid]]
        ):
            return child, worker_tid
        time.sleep(0.01)
    raise AssertionError("the child's threads never blocked")


def test_a_timed_futex_wait_is_a_sleep_only_while_every_other_thread_waits_untimed() -> None:
    """Python's `Event().wait(0.1)` in a worker that main joins: main waits on a futex with no
    timeout, so nothing in the process runs before the worker's timeout. A thread in any
    other call (here a read) could change the word: not a sleep then."""
    parked, parked_worker = _child("futex")
    reading, _ = _child("read")
    try:
        assert others_parked(parked.pid, parked_worker)  # main is in an untimed futex wait
        assert others_parked(parked.pid, parked.pid)
        assert not others_parked(reading.pid, reading.pid)  # its worker is in a read
        assert not others_parked(999_999_999, 1)  # no such process
    finally:
        for child in (parked, reading):
            child.kill()
            child.wait()


def test_an_idle_event_loop_on_its_own_wakers_counts_as_parked() -> None:
    """Node's main thread in libuv's `epoll_wait(-1)` while a worker waits in `Atomics.wait`:
    nothing but the process itself writes its eventfd, so main does not run before the
    worker's timeout. A listening socket in the set is input from elsewhere."""
    idle, idle_worker = _child("epoll")
    serving, serving_worker = _child("epoll-socket")
    try:
        assert others_parked(idle.pid, idle_worker)
        assert not others_parked(serving.pid, serving_worker)
    finally:
        for child in (idle, serving):
            child.kill()
            child.wait()


def test_a_thread_caught_running_is_looked_at_again_before_it_counts() -> None:
    """A sibling that runs for a moment (the last link of a Timer chain exiting, V8's helper
    threads) is looked at PARKED_TRIES times; one that keeps running spoils the sleep."""
    busy = subprocess.Popen(
        [sys.executable, "-c", "import threading\nthreading.Thread(target=lambda: None).start()\n"
         "print(threading.get_native_id(), flush=True)\nwhile True: pass"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert busy.stdout is not None
        busy.stdout.readline()
        started = time.monotonic()
        assert not others_parked(busy.pid, 1)  # main spins: running at every look
        assert time.monotonic() - started >= (PARKED_TRIES - 1) * PARKED_PAUSE_SECONDS
    finally:
        busy.kill()
        busy.wait()


@contextlib.contextmanager
def _python_threads(code: str) -> Iterator[tuple[int, int]]:
    """A Python child running `code`, which prints a thread's id: (its pid, that thread)."""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child.pid, int(child.stdout.readline())
    finally:
        child.kill()
        child.wait()


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _syscall(pid: int, tid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()


def _in_timed_futex_wait(pid: int, tid: int) -> bool:
    fields = _syscall(pid, tid)
    return fields[0] == "202" and fields[4] != "0x0"  # futex, a timeout pointer


def test_a_sibling_in_a_timed_futex_wait_is_looked_at_again_and_spoils_if_it_stays() -> None:
    """A timed futex wait ends by itself (the last Timer link waits up to 5 ms for the GIL,
    then exits): looked at again, like a running thread; one that stays in it may wake
    before the asking thread's timeout and change its word: not a sleep."""
    code = (
        "import threading\nt = threading.Thread(target=threading.Event().wait, args=(60,))\n"
        "t.start()\nprint(t.native_id, flush=True)\nt.join()"
    )
    with _python_threads(code) as (pid, waiter):
        _until(lambda: _in_timed_futex_wait(pid, waiter), "the worker never waited")
        assert others_parked(pid, waiter)  # main joins: untimed
        started = time.monotonic()
        assert not others_parked(pid, pid)  # the worker's wait is timed
        assert time.monotonic() - started >= (PARKED_TRIES - 1) * PARKED_PAUSE_SECONDS


def test_a_main_thread_gone_before_its_workers_does_not_count() -> None:
    """A process whose main thread exited (`pthread_exit`) while a worker goes on keeps the
    leader as a zombie, in no call: it runs no more, so it spoils nothing."""
    code = (
        "import ctypes, threading\nheld = threading.Lock()\nheld.acquire()\n"
        "t = threading.Thread(target=held.acquire)\nt.start()\nprint(t.native_id, flush=True)\n"
        "ctypes.CDLL(None).pthread_exit(None)"
    )
    with _python_threads(code) as (pid, worker):
        stat = Path(f"/proc/{pid}/stat")
        _until(lambda: stat.read_text().rpartition(")")[2].split()[0] == "Z", "main never exited")
        _until(lambda: _syscall(pid, worker)[0] == "202", "the worker never waited")
        assert others_parked(pid, 1)  # the worker waits untimed; the leader is gone


def test_a_sibling_the_keeper_holds_until_later_counts_as_parked() -> None:
    """Node's main loop waits on its own wakers for a timer 8 s away while a worker's rounds
    are 250 ms: a sibling held until no sooner than the asking thread's deadline, in a wait
    only its process ends (`held_past`, from the keeper), does not run first."""
    code = (
        "import threading\nheld = threading.Lock()\nheld.acquire()\n"
        "t = threading.Thread(target=held.acquire)\nt.start()\nprint(t.native_id, flush=True)\n"
        "t.join(60)"
    )
    with _python_threads(code) as (pid, worker):
        _until(lambda: _in_timed_futex_wait(pid, pid), "main never waited")
        assert not others_parked(pid, worker)  # main's join has a timeout
        assert others_parked(pid, worker, held_past=lambda tid: tid == pid)
