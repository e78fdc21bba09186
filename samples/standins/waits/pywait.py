#!/usr/bin/python3
"""Waits 900 s the way Python programs do, then mines (detonate test sample; harmless, fake
wallet, no real pool).

    pywait sleep     time.sleep (clock_nanosleep)
    pywait event     threading.Event().wait(900) on an event nobody sets (a futex wait)
    pywait asyncio   asyncio.sleep in an event loop (epoll_wait with a timeout)
    pywait short     time.sleep(0.01) 90,000 times: a countdown of short waits
    pywait tenth     time.sleep(0.1) 9,000 times: a countdown of sub-second waits

After the wait the process becomes the miner stand-in (/usr/local/bin/xmrig) logging in to a
.test pool with a fake wallet for one share.
"""

import asyncio
import os
import sys
import threading
import time

WAIT = 900
SHORT = 0.01  # the short form's round
TENTH = 0.1  # the tenth form's round
POOL = "stratum+tcp://pool.waits.test:3333"
WALLET = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"  # noqa: E501


def countdown(rounds: int, each: float) -> None:
    for _ in range(rounds):
        time.sleep(each)


FORMS = {
    "sleep": lambda: time.sleep(WAIT),
    "event": lambda: threading.Event().wait(WAIT),
    "asyncio": lambda: asyncio.run(asyncio.sleep(WAIT)),
    "short": lambda: countdown(round(WAIT / SHORT), SHORT),
    "tenth": lambda: countdown(round(WAIT / TENTH), TENTH),
}

if len(sys.argv) != 2 or sys.argv[1] not in FORMS:
    sys.exit(f"usage: pywait {'|'.join(FORMS)}")
print(f"waiting {WAIT} s with {sys.argv[1]}", flush=True)
started = time.monotonic()
FORMS[sys.argv[1]]()
print(f"waited {time.monotonic() - started:.1f} s; starting the miner", flush=True)
os.execv("/usr/local/bin/xmrig", ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])
