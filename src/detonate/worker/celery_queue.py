"""`CeleryQueue`: the service's `ScanQueue` on Celery + Redis (`detonate serve --queue redis://…`).

    queue = CeleryQueue(store, "redis://127.0.0.1:6379/0")
    queue.submit(scan.id, scan.priority)   # → detonate.urgent or detonate.backlog

Only scan ids travel: the store is the record, so a message Redis loses can be sent again from
the store's queued scans (`resume`), and a duplicate message is skipped by the worker.
"""

from __future__ import annotations

import logging
import uuid

import redis
from celery import Celery

from detonate.store import ScanStatus, Source, Store
from detonate.worker.app import BACKLOG, QUEUES, TASK_NAME, URGENT, FleetConfig, configure

log = logging.getLogger("detonate.queue")
INSPECT_TIMEOUT_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 0.5  # a /metrics scrape waits this long for the workers' answers


def queue_for(source: Source | str, priority: int) -> str:
    """Webhook scans wait in the backlog unless raised; whatever someone waits on is urgent."""
    return BACKLOG if Source(source) is Source.WEBHOOK and priority <= 0 else URGENT


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Messages waiting in each of our queues (kombu keeps a Redis list per queue)."""
    return {name: int(client.llen(name)) for name in QUEUES}


class CeleryQueue:
    def __init__(self, store: Store, broker_url: str) -> None:
        self.store = store
        self.app = configure(Celery("detonate", set_as_current=False), FleetConfig(broker_url))
        self.redis = redis.Redis.from_url(broker_url, socket_timeout=5)

    def resume(self) -> tuple[int, int]:
        """Send the store's queued scans again (a broker that lost them, a fresh Redis); the
        workers skip the ones they already have. Running scans belong to their workers: a dead
        worker's scan comes back by Redis's redelivery, not from here."""
        queued = [r for r in self.store.active_scans() if r.status is ScanStatus.QUEUED]
        for record in queued:
            self._send(record.id, queue_for(record.source, record.priority))
        return len(queued), 0

    def submit(self, scan_id: str, priority: int = 0) -> None:
        record = self.store.get_scan(scan_id)
        source = record.source if record is not None else Source.API
        self._send(scan_id, queue_for(source, priority))

    def _send(self, scan_id: str, queue: str) -> None:
        # Never an eta or countdown (see app.py); a fresh task id per message, so a revoked
        # earlier message of the same scan does not hide a later retry.
        self.app.send_task(
            TASK_NAME, args=[scan_id], queue=queue, task_id=f"{scan_id}.{uuid.uuid4().hex[:8]}"
        )

    def cancel(self, scan_id: str) -> bool:
        """Failed in the store first, then (running) SIGTERM to the worker process running it:
        the sandbox tears down as on Ctrl-C, and the worker, finding the scan no longer its own,
        writes nothing over the cancel. False: unknown, or finished already or meanwhile."""
        record = self.store.get_scan(scan_id)
        if record is None or not record.active:
            return False
        running = record.status is ScanStatus.RUNNING
        reason = "cancelled while running" if running else "cancelled before it started"
        if self.store.cancel(scan_id, reason) is None:
            return False
        if running:
            for task_id in self._running_task_ids(scan_id):
                self.app.control.revoke(task_id, terminate=True, signal="SIGTERM")
        return True  # a queued one's message is skipped by the worker that takes it

    def _running_task_ids(self, scan_id: str) -> list[str]:
        active = self.app.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS).active() or {}
        return [
            task["id"] for tasks in active.values() for task in tasks if task["args"] == [scan_id]
        ]

    def depths(self) -> dict[str, int]:
        return queue_depths(self.redis)

    def depth(self) -> int:
        return sum(self.depths().values())

    def workers(self) -> list[str]:
        """Names of the workers that answer a ping now."""
        answers = self.app.control.ping(timeout=PING_TIMEOUT_SECONDS) or []
        return sorted(name for answer in answers for name in answer)

    def running(self) -> int:
        return sum(n for (status, _), n in self.store.counts().items() if status == "running")

    def close(self) -> None:
        self.redis.close()
        self.app.close()
