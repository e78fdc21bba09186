"""`detonate worker`: a Celery worker on the fleet's queues, scanning into the store.

    detonate worker --queue redis://redis:6379/0 --db postgresql://detonate@db/detonate \\
                    --concurrency 1 --timeout 60
"""

from __future__ import annotations

from detonate.store import Store
from detonate.worker.app import QUEUES, FleetConfig, app, configure, worker_argv


def run_worker(
    config: FleetConfig, concurrency: int, queues: tuple[str, ...] = QUEUES, name: str = ""
) -> None:
    from detonate.worker.task import preload  # registers the scan task on the app

    Store.open(config.store_url).close()  # a wrong --db fails here, with the reason
    preload(config.scan)
    configure(app, config)
    app.worker_main(worker_argv(concurrency, queues, name))
