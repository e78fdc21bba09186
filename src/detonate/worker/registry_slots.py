"""Scans at once per registry, across the fleet: a Redis semaphore keyed by registry host.

    slots = RegistrySlots(redis.Redis.from_url(url), limit=2)
    with slots.held("registry.test:5000", token) as got:   # False: the registry is full
        ...

One sorted set per registry: member = the holder's token, score = when its lease ends. A
holder renews its lease while it scans (`renew`), so the slot of a worker that was SIGKILLed
frees itself within LEASE_SECONDS instead of blocking the registry until someone notices.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from detonate.acquire.reference import parse_reference
from detonate.errors import DetonateError
from detonate.worker.renewal import renewed

LEASE_SECONDS = 60
RENEW_SECONDS = 15
KEY_PREFIX = "detonate:registry-slots:"

# KEYS[1] the registry's set; ARGV: token, now, lease end, limit → 1 taken, 0 full.
ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[5])))
  return 1
end
return 0
"""


def registry_of(reference: str) -> str:
    """The registry host of a docker reference; "" for local transports (not limited)."""
    # "docker://registry.test:5000/team/app@sha256:…" → "registry.test:5000"
    try:
        ref = parse_reference(reference)
    except DetonateError:
        return ""
    if ref.transport != "docker":
        return ""
    first = ref.repository.split("/", 1)[0]
    return first if "." in first or ":" in first or first == "localhost" else "docker.io"


class RegistrySlots:
    def __init__(self, client: redis.Redis, limit: int) -> None:
        self.client, self.limit = client, limit
        self._acquire = client.register_script(ACQUIRE)

    def acquire(self, registry: str, token: str) -> bool:
        now = time.time()
        taken = self._acquire(
            keys=[KEY_PREFIX + registry],
            args=[token, now, now + LEASE_SECONDS, self.limit, LEASE_SECONDS * 2],
        )
        return bool(taken)

    def renew(self, registry: str, token: str) -> None:
        key = KEY_PREFIX + registry
        with self.client.pipeline() as pipe:
            pipe.zadd(key, {token: time.time() + LEASE_SECONDS}, xx=True)
            pipe.expire(key, LEASE_SECONDS * 2)
            pipe.execute()

    def release(self, registry: str, token: str) -> None:
        self.client.zrem(KEY_PREFIX + registry, token)

    def holders(self, registry: str) -> int:
        return int(self.client.zcount(KEY_PREFIX + registry, time.time(), "+inf"))

    def wait(self, registry: str, token: str, seconds: float, poll: float = 0.5) -> bool:
        """Take a slot, waiting up to `seconds` for one to free."""
        deadline = time.monotonic() + seconds
        while not self.acquire(registry, token):
            if time.monotonic() + poll > deadline:
                return False
            time.sleep(poll)
        return True

    @contextmanager
    def held(self, registry: str, token: str, wait_seconds: float = 0) -> Iterator[bool]:
        """A slot for the body (renewed meanwhile), or False when none freed in time."""
        if self.limit <= 0 or not registry:
            yield True
            return
        if not self.wait(registry, token, wait_seconds):
            yield False
            return
        try:
            with renewed(lambda: self.renew(registry, token), RENEW_SECONDS, "detonate-slot"):
                yield True
        finally:
            self.release(registry, token)
