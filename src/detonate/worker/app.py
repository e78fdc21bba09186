"""The Celery app of the fleet and its settings for long, heavy, root-only tasks.

    config = FleetConfig(broker_url="redis://127.0.0.1:6379/0", store_url="postgresql://…")
    configure(app, config)      # before app.worker_main() or app.send_task()

A scan takes seconds to minutes, needs root and a whole core, and leaves kernel state behind
(mounts, namespaces, cgroups) when its process dies: the settings below trade Celery's
throughput defaults for "each scan runs once, alone, in a fresh process, and is not lost".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.entity import Queue

from detonate.errors import UsageError
from detonate.model.options import ScanOptions

URGENT = "detonate.urgent"  # API, CLI, admission and honeypot scans: someone is waiting
BACKLOG = "detonate.backlog"  # registry webhooks: a push flood must not delay the above
QUEUES = (URGENT, BACKLOG)
TASK_NAME = "detonate.scan"
STATIC_SECONDS = 300  # unpack, static analysis, detection and the report, at most
TEARDOWN_SECONDS = 60  # after the soft limit: the sandbox tears down before the hard kill

app = Celery("detonate", set_as_current=False)


@dataclass(frozen=True)
class FleetConfig:
    broker_url: str
    store_url: str = ""  # the workers' store ("" in a producer that only sends tasks)
    scan: ScanOptions = field(default_factory=ScanOptions)
    state_dir: Path = Path("/run/detonate")
    registry_limit: int = 2  # scans of one registry at once, fleet-wide (0: no limit)
    # Stored scans other rules judged are re-judged with the worker's rules in a background
    # process (store/background_rejudge.py), at most this many a second.
    background_rejudge: bool = True
    rejudge_per_second: float = 2.0
    # A running scan's lease in Redis (worker/scan_leases.py), renewed every quarter of this:
    # a scan whose worker died unseen is sent again within about 1.5 times this.
    scan_lease_seconds: float = 60.0

    @property
    def soft_time_limit(self) -> int:
        """Above the run's own timeouts (pull + sandbox + the rest): a scan that is merely slow
        finishes; one that hangs gets SoftTimeLimitExceeded and is stored as failed."""
        return (
            self.scan.acquire.timeout_seconds + self.scan.sandbox.timeout_seconds + STATIC_SECONDS
        )

    @property
    def time_limit(self) -> int:
        """The hard kill (SIGKILL of the worker process), after the soft limit's teardown."""
        return self.soft_time_limit + TEARDOWN_SECONDS

    @property
    def visibility_timeout(self) -> int:
        """Redis hands an unacknowledged task to another worker after this: a scan still
        running then would run twice, so it is well above the hard limit (3×)."""
        return 3 * self.time_limit


def check_broker_url(url: str) -> str:
    # "redis://127.0.0.1:6379/0", "rediss://:password@redis.internal:6380/1"
    if not url.startswith(("redis://", "rediss://", "redis+socket://")):
        raise UsageError(
            f"unsupported queue URL {url!r}", "use redis://HOST:PORT/DB (Redis is the broker)"
        )
    return url


def settings_for(config: FleetConfig) -> dict[str, Any]:
    return {
        "broker_url": check_broker_url(config.broker_url),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": config.visibility_timeout,
            # Take from the queues in the order a worker lists them (urgent first), not
            # round-robin: the backlog only runs when nothing urgent waits.
            "queue_order_strategy": "priority",
        },
        # Scans are tasks of their own: the store keeps the results, not a Celery backend.
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_queues": [
            Queue(name, routing_key=name)  # type: ignore[no-untyped-call]
            for name in QUEUES
        ],
        "task_default_queue": URGENT,
        # Acknowledge after the scan, not when it is taken: a worker that dies mid-scan
        # leaves the message unacknowledged, so the scan is delivered again.
        "task_acks_late": True,
        # ... and when the pool sees its child die (SIGKILL, OOM), the message goes back at
        # once instead of waiting out the visibility timeout.
        "task_reject_on_worker_lost": True,
        # A hard time limit is a worker death too: requeued, counted by the store's attempts,
        # poisoned after repeated deaths (never acknowledged and forgotten while "running").
        "task_acks_on_failure_or_timeout": False,
        # One task per process and none reserved beyond it: a prefetched scan would wait
        # behind a minutes-long one while another worker idles, and could outlive the
        # visibility timeout in the local buffer and run twice.
        "worker_prefetch_multiplier": 1,
        # A fresh process per scan: a sandbox leaves kernel state and threads behind, and a
        # crash in one scan must not carry into the next.
        "worker_max_tasks_per_child": 1,
        # Celery's prefork pool, with a finished process handed back in milliseconds rather
        # than up to 0.1 s later (`--pool=prefork` defers to this setting; worker/pool.py).
        "worker_pool": "detonate.worker.pool:TaskPool",
        "task_soft_time_limit": config.soft_time_limit,
        # No ETA/countdown tasks anywhere (CeleryQueue never sends them, the task never
        # retries with a delay): Redis keeps such tasks in the worker's memory, unacknowledged,
        # where they outlive the visibility timeout and are delivered twice.
        "task_time_limit": config.time_limit,
        # Task events let `detonate fleet status` and Flower see what runs where.
        "worker_send_task_events": True,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        # Detonate keeps its own config on the app for the forked worker processes.
        "detonate_store_url": config.store_url,
        "detonate_scan_options": config.scan,
        "detonate_state_dir": config.state_dir,
        "detonate_registry_limit": config.registry_limit,
        "detonate_scan_lease_seconds": config.scan_lease_seconds,
    }


def configure(target: Celery, config: FleetConfig) -> Celery:
    target.conf.update(settings_for(config))
    return target


def worker_argv(concurrency: int, queues: tuple[str, ...] = QUEUES, name: str = "") -> list[str]:
    """The `celery worker` arguments `detonate worker` runs with."""
    return [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        # Fair scheduling: a task goes to a process that is free, never queued behind a
        # busy one (with long tasks, the default would hold scans back).
        "-O",
        "fair",
        f"--queues={','.join(queues)}",
        f"--hostname={name or 'detonate@%h'}",
        "--loglevel=INFO",
        "--without-gossip",  # workers do not need each other; fewer broker round trips
        "--without-mingle",
    ]
