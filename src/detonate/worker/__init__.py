"""worker: scans on Celery with Redis as broker, for more than one machine (`detonate worker`).

The store stays the record (scan status, attempts, reports); Celery only carries scan ids from
the service (`CeleryQueue`, `detonate serve --queue redis://…`) to the workers (`task.scan_task`).
"""

from detonate.worker.app import BACKLOG, QUEUES, URGENT, FleetConfig, app, configure
from detonate.worker.celery_queue import CeleryQueue, queue_for

__all__ = [
    "BACKLOG",
    "QUEUES",
    "URGENT",
    "CeleryQueue",
    "FleetConfig",
    "app",
    "configure",
    "queue_for",
]
