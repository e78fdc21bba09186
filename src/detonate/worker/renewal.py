"""A lease in Redis renewed on a thread while the body runs (registry slots, scan leases).

with renewed(lambda: slots.renew(registry, token), every=15, name="detonate-slot"):
    ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis


@contextmanager
def renewed(renew: Callable[[], object], every: float, name: str) -> Iterator[None]:
    """`renew` every `every` seconds until the body ends or it returns False (the lease is not
    ours any more). A Redis error skips one renewal: Redis restarting, the next renewal or the
    lease's own length covers it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                if renew() is False:
                    return
            except redis.RedisError:
                continue

    renewer = threading.Thread(target=loop, daemon=True, name=name)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
