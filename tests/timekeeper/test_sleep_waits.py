"""Which held waits are sleeps: nothing but their deadline ends them. The keeper takes a
thread's sub-second sleeps back to back as a countdown's rounds (keeper._short_round), while
an event loop's tick on its fds stays a loop. Decoded for this process, as the keeper decodes
the sample's calls."""

from __future__ import annotations

import ctypes
import os
import select
import socket
import struct

from detonate.sandbox.timekeeper import waits
from detonate.sandbox.timekeeper.calls import NR
from detonate.sandbox.timekeeper.notify import Notification

MS = 1_000_000


def decode(call: str, *args: int) -> waits.Answer:
    note = Notification(1, os.getpid(), NR[call], 0, (*args, 0, 0, 0, 0, 0, 0)[:6])
    return waits.decode(note, os.getpid(), waits.Now(virtual=5_000 * MS, offset=0))


def is_sleep(answer: waits.Answer) -> bool:
    assert isinstance(answer, waits.Hold), answer
    try:
        return answer.probe.time_only()
    finally:
        answer.probe.close()


def test_nanosleep_and_a_poll_or_select_of_no_fds_are_sleeps() -> None:
    tenth = ctypes.create_string_buffer(struct.pack("<qq", 0, 100 * MS))
    assert is_sleep(decode("nanosleep", ctypes.addressof(tenth), 0))
    assert is_sleep(decode("poll", 0, 0, 100))
    timeval = ctypes.create_string_buffer(struct.pack("<qq", 0, 100_000))
    assert is_sleep(decode("select", 0, 0, 0, 0, ctypes.addressof(timeval)))


def test_a_timeout_in_whole_milliseconds_is_marked_so() -> None:
    """poll and epoll_wait take whole ms, which a caller may have cut down from a finer
    deadline (Go's netpoller: clock.ShortRun.truncates); ppoll's timespec and nanosleep not."""
    nine = ctypes.create_string_buffer(struct.pack("<qq", 0, 9 * MS))
    with select.epoll() as epoll:
        holds = [decode("poll", 0, 0, 9), decode("epoll_wait", epoll.fileno(), 0, 1, 9)]
        exact = [
            decode("ppoll", 0, 0, ctypes.addressof(nine), 0),
            decode("nanosleep", ctypes.addressof(nine), 0),
        ]
    for hold in (*holds, *exact):
        assert isinstance(hold, waits.Hold), hold
        hold.probe.close()
    assert [h.in_ms for h in holds] == [True, True]
    assert [h.in_ms for h in exact] == [False, False]


def test_a_wait_on_an_fd_is_not_a_sleep() -> None:
    """A connection (a TCP one: a socketpair whose both ends the process holds is its own
    waker, asyncio's self-pipe)."""
    listener = socket.create_server(("127.0.0.1", 0))
    there = socket.create_connection(listener.getsockname())
    here, _ = listener.accept()
    epoll = select.epoll()
    with listener, here, there, epoll:
        pollfd = ctypes.create_string_buffer(struct.pack("<ihh", here.fileno(), select.POLLIN, 0))
        assert not is_sleep(decode("poll", ctypes.addressof(pollfd), 1, 100))
        epoll.register(here.fileno(), select.EPOLLIN)
        assert not is_sleep(decode("epoll_wait", epoll.fileno(), 0, 1, 100))  # redis' tick


def test_a_wait_on_the_runtime_s_own_wakers_only_is_a_sleep() -> None:
    """Go's netpoller with its break pipe, libuv with its eventfd: nothing outside the process
    writes to them, so the timeout is a sleep's (wakers.py)."""
    r, w = os.pipe()
    event = os.eventfd(0)
    epoll = select.epoll()
    try:
        assert is_sleep(decode("epoll_wait", epoll.fileno(), 0, 1, 100))  # an empty set
        epoll.register(r, select.EPOLLIN)
        epoll.register(event, select.EPOLLIN)
        assert is_sleep(decode("epoll_pwait", epoll.fileno(), 0, 1, 100, 0))
        pollfd = ctypes.create_string_buffer(struct.pack("<ihh", event, select.POLLIN, 0))
        assert is_sleep(decode("poll", ctypes.addressof(pollfd), 1, 100))
    finally:
        epoll.close()
        os.close(event)
        os.close(r)
        os.close(w)


def test_what_only_the_waiters_own_process_can_end() -> None:
    """A thread held in such a wait runs no sooner than its deadline unless a thread of its
    process runs first (keeper._held_past): a sleep, a private futex, a poll of the process's
    own wakers; not a shared futex (another process may change it) nor a socket."""
    tenth = ctypes.create_string_buffer(struct.pack("<qq", 0, 100 * MS))
    word = ctypes.c_uint32(0)
    wake_r, wake_w = os.pipe()
    server = socket.create_server(("127.0.0.1", 0))
    polled = ctypes.create_string_buffer(struct.pack("<ihh", wake_r, select.POLLIN, 0))
    served = ctypes.create_string_buffer(struct.pack("<ihh", server.fileno(), select.POLLIN, 0))
    answers = {
        "sleep": decode("nanosleep", ctypes.addressof(tenth), 0),
        "private futex": decode("futex", ctypes.addressof(word), 128, 0, ctypes.addressof(tenth)),
        "shared futex": decode("futex", ctypes.addressof(word), 0, 0, ctypes.addressof(tenth)),
        "own wakers": decode("poll", ctypes.addressof(polled), 1, 100),
        "a listener": decode("poll", ctypes.addressof(served), 1, 100),
    }
    try:
        within = {}
        for name, answer in answers.items():
            assert isinstance(answer, waits.Hold), name
            within[name] = answer.probe.from_within()
            answer.probe.close()
        assert within == {
            "sleep": True, "private futex": True, "shared futex": False, "own wakers": True,
            "a listener": False,
        }  # fmt: skip
    finally:
        os.close(wake_r)
        os.close(wake_w)
        server.close()
