"""`detonate worker`: a Celery worker on the fleet's queues, scanning into the store.

    detonate worker --queue redis://redis:6379/0 --db postgresql://detonate@db/detonate \\
                    --concurrency 1 --timeout 60
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import redis
from celery import bootsteps

from detonate.sandbox.watchdog import ensure_watchdog
from detonate.store import Store
from detonate.store.background_rejudge import BackgroundRejudge, BackgroundSettings, start
from detonate.worker.app import QUEUES, TASK_NAME, FleetConfig, app, configure, worker_argv
from detonate.worker.scan_leases import Holder, LeaseKeeper, ScanLeases

log = logging.getLogger("detonate.worker")

# How often the main process looks for exited pool processes to replace. Celery replaces one
# when its exit wakes the event loop, yet some exits were found only by the pool's own 5 s check
# (the wake-up came a moment before the process was reapable: seen in 3 of 12 hand-backs, reaped
# 17-36 ms later). With a fresh process per scan that was up to 5 s between scans (one traced
# run of 6 scans: 4.5, 3.7 and 1 s after three of them); with this check, under 0.2 s. The pool
# (worker/pool.py) now looks again every few milliseconds after such a wake-up; this check
# remains for an exit whose wake-up never came.
REPLACE_CHECK_SECONDS = 0.1


class PromptReplacement(bootsteps.StartStopStep):  # type: ignore[misc]
    """Replace an exited pool process within REPLACE_CHECK_SECONDS, not up to 5 s later."""

    requires = {"celery.worker.components:Pool"}

    def register_with_event_loop(self, worker: Any, hub: Any) -> None:
        hub.call_repeatedly(REPLACE_CHECK_SECONDS, worker.pool.maintain_pool)


class KeepLeases(bootsteps.StartStopStep):  # type: ignore[misc]
    """The main process's LeaseKeeper: the scans of workers that died unseen (the whole worker
    SIGKILLed, a lost node) are sent again within about 1.5 lease periods, not after Redis's
    visibility timeout."""

    requires = {"celery.worker.components:Hub"}

    def register_with_event_loop(self, worker: Any, hub: Any) -> None:
        conf = worker.app.conf
        client = redis.Redis.from_url(conf["broker_url"], socket_timeout=5)
        leases = ScanLeases(client, conf["detonate_scan_lease_seconds"])
        keeper = LeaseKeeper(leases, lambda holder: _send_again(worker.app, holder))

        def tick() -> None:
            try:
                keeper.tick()
            except Exception:  # never the event loop's end: the next tick tries again
                log.exception("the scan lease keeper failed")

        hub.call_repeatedly(leases.renew_every, tick)


def _send_again(target: Any, holder: Holder) -> None:
    target.send_task(
        TASK_NAME,
        args=[holder.scan_id],
        kwargs={"taken_over": True},
        queue=holder.queue,
        task_id=f"{holder.scan_id}.{uuid.uuid4().hex[:8]}",
    )


def run_worker(
    config: FleetConfig, concurrency: int, queues: tuple[str, ...] = QUEUES, name: str = ""
) -> None:
    from detonate.worker.task import preload  # registers the scan task on the app

    store = Store.open(config.store_url)  # a wrong --db fails here, with the reason
    try:
        rejudging = _start_rejudge(store, config)
    except BaseException:
        store.close()
        raise
    configure(app, config)
    app.steps["worker"].add(PromptReplacement)
    app.steps["worker"].add(KeepLeases)
    # The pool processes start no watchdog (each replacement sweeps its predecessor's
    # leftovers, task._open_in_child); this one sweeps when the whole worker dies, SIGKILL
    # of the pool processes included (Celery sets it as their parent-death signal).
    ensure_watchdog(config.state_dir)
    preload(config.scan, store)  # last: it freezes the heap the pool processes inherit
    try:
        app.worker_main(worker_argv(concurrency, queues, name))
    finally:
        if rejudging is not None:
            rejudging.stop()
        store.close()


def _start_rejudge(store: Store, config: FleetConfig) -> BackgroundRejudge | None:
    """Before Celery starts: a process of its own (started by exec, no fork of this one)."""
    if not config.background_rejudge:
        return None
    settings = BackgroundSettings(
        config.store_url,
        rules_dir=config.scan.static.extra_rules_dir,
        ignore_file=config.scan.ignore_file,
        per_second=config.rejudge_per_second,
    )
    return start(store, settings, "worker")
