"""`detonate fleet status`: workers, queue depths, running scans and the oldest queued one.

workers    2  detonate@node-a (1 active), detonate@node-b (0 active)
queues     detonate.urgent 0, detonate.backlog 37
running    1  3f2a… docker://registry.test/app@sha256:… (sandbox, 41 s) on node-a pid 4242
oldest     queued 12 min ago: 9c1d… docker://registry.test/web@sha256:…
rejudge    ruleset 5e0c8a1f2b3d: 120 done (3 changed, 117 rejudged), 1 now, 80 to go
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from celery import Celery

from detonate.store import RejudgeProgress, ScanRecord, ScanStatus, Store
from detonate.worker.app import FleetConfig, configure
from detonate.worker.celery_queue import INSPECT_TIMEOUT_SECONDS, queue_depths
from detonate.worker.scan_leases import Holder, ScanLeases


@dataclass(frozen=True)
class FleetStatus:
    workers: dict[str, int]  # worker name → tasks it runs now
    queues: dict[str, int]  # queue → messages waiting
    running: list[ScanRecord]
    oldest_queued: ScanRecord | None
    rejudge: RejudgeProgress | None = None  # towards the latest announced ruleset
    # running scan id → the holder of its lease (worker/scan_leases.py); None: no live lease
    holders: dict[str, Holder | None] = field(default_factory=dict)


def fleet_status(store: Store, broker_url: str) -> FleetStatus:
    scans = store.active_scans()  # by priority, then age
    running = [r for r in scans if r.status is ScanStatus.RUNNING]
    celery = configure(Celery("detonate", set_as_current=False), FleetConfig(broker_url))
    client = redis.Redis.from_url(broker_url, socket_timeout=5)
    try:
        leases = ScanLeases(client)  # read beside the store's word, before inspect's second
        holders = {r.id: leases.holder(r.id) for r in running}
        active = celery.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS).active() or {}
        depths = queue_depths(client)
    finally:
        client.close()
        celery.close()
    queued = [r for r in scans if r.status is ScanStatus.QUEUED]
    return FleetStatus(
        workers={name: len(tasks) for name, tasks in sorted(active.items())},
        queues=depths,
        running=running,
        oldest_queued=min(queued, key=lambda r: r.created_at) if queued else None,
        rejudge=store.rejudge_progress(),
        holders=holders,
    )


def _held(holder: Holder | None) -> str:
    """Where a running scan runs, as its lease says; a dead worker's scan shows here first."""
    if holder is None:
        return "no live lease: its worker stopped renewing it (a keeper sends the scan again)"
    if holder.dead_here():
        return f"on {holder.host} pid {holder.pid}, gone (the scan is taken over)"
    return f"on {holder.host} pid {holder.pid}"


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "?"
    seconds = int((now - (since if since.tzinfo else since.replace(tzinfo=UTC))).total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def render(status: FleetStatus, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    workers = ", ".join(f"{name} ({n} active)" for name, n in status.workers.items())
    lines = [
        f"workers    {len(status.workers)}  {workers or 'none answered'}",
        "queues     " + ", ".join(f"{name} {n}" for name, n in status.queues.items()),
        f"running    {len(status.running)}",
    ]
    lines += [
        f"  {r.id} {r.reference} ({r.stage or 'starting'}, {_age(r.started_at, now)})"
        f" {_held(status.holders.get(r.id))}"
        for r in status.running
    ]
    oldest = status.oldest_queued
    lines.append(
        f"oldest     queued {_age(oldest.created_at, now)} ago: {oldest.id} {oldest.reference}"
        if oldest
        else "oldest     nothing queued"
    )
    lines.append(_rejudge_line(status.rejudge))
    return "\n".join(lines)


def _rejudge_line(progress: RejudgeProgress | None) -> str:
    if progress is None:
        return "rejudge    no ruleset announced (no background rejudge ran)"
    done = ", ".join(f"{n} {outcome}" for outcome, n in sorted(progress.done.items()))
    return (
        f"rejudge    ruleset {progress.ruleset_hash[:12]}: {progress.finished} done"
        f"{f' ({done})' if done else ''}, {progress.claimed} now, {progress.pending} to go"
    )
