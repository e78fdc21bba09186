"""A network namespace with a TCP connection table of its own, small.

A new namespace shares the host's TCP hash table (262,144 buckets on this kind of machine), and
reading `/proc/<pid>/net/tcp` walks all of it: 1.7 ms a read, two reads a file. The time keeper
asks whether the simulated internet still has a request of the sample's unread
(answering.py) dozens of times a second, and a countdown of short sleeps paid seconds of each
run for it. Since Linux 6.1 a namespace takes its own table, sized by
`net.ipv4.tcp_child_ehash_entries` of the namespace that creates it; setting that on the host
would change every namespace anyone makes. So a thread of ours enters a namespace of its own
(the nursery, gone with the thread), sets the size there, and runs `ip netns add` from it. Then
the same read costs ~0.1 ms. Elsewhere (an older kernel) the namespace is made as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

CLONE_NEWNET = 0x40000000
# Buckets, not a limit: a port scan's thousands of connections only make longer chains.
BUCKETS = 1024
SYSCTL = Path("/proc/sys/net/ipv4/tcp_child_ehash_entries")

_libc = ctypes.CDLL(None, use_errno=True)

Runner = Callable[..., subprocess.CompletedProcess[str]]


def add_namespace(name: str, run: Runner) -> None:
    """`ip netns add name` through `run`, from a nursery when this kernel allows it."""
    outcome: list[BaseException] = []

    def in_nursery() -> None:
        try:
            # unshared or not (then this thread is in the host's namespace), set or not (a
            # kernel before 6.1): `ip`, started from this thread, creates the namespace from
            # this thread's, with its own table only when both worked
            if _libc.unshare(CLONE_NEWNET) == 0:
                _set_size()
            run("ip", "netns", "add", name)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome.append(exc)

    thread = threading.Thread(target=in_nursery, name="netns-nursery")
    thread.start()
    thread.join()
    if outcome:
        raise outcome[0]


def _set_size() -> None:
    with contextlib.suppress(OSError):  # before Linux 6.1
        SYSCTL.write_text(str(BUCKETS))  # resolved in this thread's namespace: the nursery's
