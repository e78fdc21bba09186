"""Who runs each fleet scan, leased in Redis, so a scan whose whole worker died runs again soon.

    leases = ScanLeases(redis.Redis.from_url(url), seconds=60)
    with leases.held(scan_id, queue):     # renewed every seconds/4 while the scan runs
        ...
    leases.holder(scan_id)                # its Holder, or None once the lease has run out
    leases.take_expired(grace)            # the dead holders' leases, each to one caller only

Celery sends a scan back at once only when the pool saw its process die. When the worker's
main process dies too (SIGKILL, a lost node), Redis restores the unacknowledged message only
after the visibility timeout (3060 s with `--timeout 60`). A lease that stops being renewed
says the same within a minute, and a `LeaseKeeper` in every live worker sends such scans
again. The lease also tells a redelivered message whether the scan's holder still runs it,
so a duplicate never takes a live scan over (two runs of one scan).

One sorted set (member = scan id, score = when its lease ends) and one hash (scan id → the
holder: host, pid, process start, queue, token).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass

import redis

from detonate.sandbox.leftovers import is_alive, process_start_time
from detonate.worker.renewal import renewed

log = logging.getLogger("detonate.worker")
LEASE_SECONDS = 60
ENDS = "detonate:scan-leases"  # scan id → when its lease ends (time.time())
HOLDERS = "detonate:scan-holders"  # scan id → Holder, as JSON

# ARGV: scan id, lease end, holder JSON, token, "take" (a holder starting its run: the task
# has seen no live holder) or "renew" (only the caller's own lease, or one nobody holds any
# more as Redis was away past its end; never one another worker took over meanwhile).
SET_LEASE = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if ARGV[5] == 'renew' and held and cjson.decode(held)['token'] ~= ARGV[4] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

# ARGV: scan id, token.
RELEASE = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held and cjson.decode(held)['token'] == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
"""

# ARGV: ended before. Atomic, so of several keepers exactly one gets each expired lease.
TAKE_EXPIRED = """
local taken = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  redis.call('ZREM', KEYS[1], id)
  local held = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  if held then table.insert(taken, held) end
end
return taken
"""


@dataclass(frozen=True)
class Holder:
    scan_id: str
    queue: str
    host: str
    pid: int
    started: int  # its start in clock ticks since boot: a pid reused since has another
    token: str

    @classmethod
    def this_process(cls, scan_id: str, queue: str) -> Holder:
        pid = os.getpid()
        return cls(
            scan_id, queue, socket.gethostname(), pid, process_start_time(pid), uuid.uuid4().hex
        )

    @classmethod
    def parse(cls, text: str | bytes) -> Holder:
        return cls(**json.loads(text))

    def here(self) -> bool:
        return self.host == socket.gethostname()

    def dead_here(self) -> bool:
        """Provably dead: on this host, and its process gone, a zombie, or its pid another's."""
        return self.here() and not is_alive(self.pid, self.started)

    def alive_here(self) -> bool:
        return self.here() and not self.dead_here()


class ScanLeases:
    def __init__(self, client: redis.Redis, seconds: float = LEASE_SECONDS) -> None:
        self.client, self.seconds = client, seconds
        self._set_lease = client.register_script(SET_LEASE)
        self._release = client.register_script(RELEASE)
        self._take_expired = client.register_script(TAKE_EXPIRED)

    @property
    def renew_every(self) -> float:
        return self.seconds / 4

    def acquire(self, holder: Holder) -> None:
        self._set(holder, time.time() + self.seconds, "take")

    def renew(self, holder: Holder, ends: float | None = None) -> bool:
        """False: another holder has taken the scan over."""
        return self._set(holder, time.time() + self.seconds if ends is None else ends, "renew")

    def _set(self, holder: Holder, ends: float, how: str) -> bool:
        args: list[str | float] = [holder.scan_id, ends, json.dumps(asdict(holder))]
        args += [holder.token, how]
        return bool(self._set_lease(keys=[ENDS, HOLDERS], args=args))

    def release(self, holder: Holder) -> None:
        self._release(keys=[ENDS, HOLDERS], args=[holder.scan_id, holder.token])

    def holder(self, scan_id: str) -> Holder | None:
        """Who holds the scan's lease now; None when nobody has renewed it in time."""
        with self.client.pipeline() as pipe:
            pipe.zscore(ENDS, scan_id)
            pipe.hget(HOLDERS, scan_id)
            ends, held = pipe.execute()
        if ends is None or held is None or float(ends) < time.time():
            return None
        return Holder.parse(held)

    def take_expired(self, grace: float) -> list[Holder]:
        """The leases that ended over `grace` seconds ago, removed: each goes to one caller."""
        taken = self._take_expired(keys=[ENDS, HOLDERS], args=[time.time() - grace])
        return [Holder.parse(text) for text in taken]

    @contextmanager
    def held(self, scan_id: str, queue: str) -> Iterator[Holder]:
        """The scan's lease for this process while the body runs. Redis away: the scan runs
        anyway, and its message's redelivery stays the fallback."""
        holder = Holder.this_process(scan_id, queue)
        try:
            self.acquire(holder)
        except redis.RedisError as error:
            log.warning("scan %s runs without a lease: %s", scan_id, error)
        try:
            with renewed(lambda: self._renew_own(holder), self.renew_every, "detonate-lease"):
                yield holder
        finally:
            # Redis away: the lease runs out on its own; the keeper then finds the scan over
            with suppress(redis.RedisError):
                self.release(holder)

    def _renew_own(self, holder: Holder) -> bool:
        if self.renew(holder):
            return True
        log.error("scan %s: its lease was taken over", holder.scan_id)
        return False


Resend = Callable[[Holder], None]  # sends the scan's task again, to the holder's queue


class LeaseKeeper:
    """Run by every worker's main process every `renew_every` seconds: the scans whose holder
    stopped renewing its lease are sent again, marked as taken over (the task then runs them
    again, or poisons them after repeated deaths). A keeper acts only once it has reached Redis
    for two renewal periods in a row, so that live holders have renewed after an outage."""

    def __init__(self, leases: ScanLeases, resend: Resend) -> None:
        self.leases, self.resend = leases, resend
        self.reachable_since: float | None = None

    def tick(self) -> list[Holder]:
        now = time.monotonic()
        try:
            self.leases.client.ping()
        except redis.RedisError:
            self.reachable_since = None
            return []
        if self.reachable_since is None:
            self.reachable_since = now
        if now - self.reachable_since < 2 * self.leases.renew_every:
            return []
        try:
            expired = self.leases.take_expired(grace=self.leases.renew_every)
        except redis.RedisError:
            return []
        resent = []
        for holder in expired:
            if holder.alive_here():  # late renewals (a starved thread), not a death
                self.leases.renew(holder)  # may raise: tick's caller logs it
                continue
            log.warning(
                "scan %s: its worker (%s, pid %d) stopped renewing its lease; sending it again",
                holder.scan_id,
                holder.host,
                holder.pid,
            )
            try:
                self.resend(holder)
            except Exception:  # the broker away: the next tick tries again
                log.exception("scan %s could not be sent again", holder.scan_id)
                self.leases.renew(holder, ends=0)
                continue
            resent.append(holder)
        return resent
