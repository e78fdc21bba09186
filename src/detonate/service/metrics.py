"""Prometheus metrics at /metrics.

Process-wide instruments live in `REGISTRY` (the worker, the webhooks and admission add to
them); what the store knows (scans by status and verdict) and the queue's depth are read when
/metrics is scraped, so they are right after a restart too.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detonate.queue import ScanQueue
from detonate.store import Store
from detonate.worker.celery_queue import CeleryQueue

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY = CollectorRegistry()

SCAN_SECONDS = Histogram(
    "detonate_scan_duration_seconds",
    "Wall time of a scan in a worker, from claim to stored report",
    ["profile", "status"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
ADMISSION_SECONDS = Histogram(
    "detonate_admission_latency_seconds",
    "Time to answer one AdmissionReview",
    ["decision"],  # allowed | denied | warned
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3),
    registry=REGISTRY,
)
WEBHOOK_EVENTS = Counter(
    "detonate_webhook_events",
    "Registry webhook events received",
    [
        "hook",
        "outcome",
    ],  # hook: distribution|harbor|ghcr|dockerhub; outcome: queued|duplicate|ignored|rejected
    registry=REGISTRY,
)
SCAN_REQUESTS = Counter(
    "detonate_scan_requests",
    "Scan requests by where they came from and whether they created a scan",
    ["source", "created"],
    registry=REGISTRY,
)


class StoreCollector(Collector):
    def __init__(self, store: Store, queue: ScanQueue) -> None:
        self.store, self.queue = store, queue

    def collect(self) -> Iterator[Metric]:
        scans = GaugeMetricFamily(
            "detonate_scans",
            "Scans in the store by status and verdict",
            labels=["status", "verdict"],
        )
        for (status, verdict), count in sorted(self.store.counts().items()):
            scans.add_metric([status, verdict], count)
        yield scans
        depth = GaugeMetricFamily("detonate_queue_depth", "Scans waiting for a worker")
        depth.add_metric([], self.queue.depth())
        yield depth
        running = GaugeMetricFamily("detonate_scans_running", "Scans a worker is running now")
        running.add_metric([], self.queue.running())
        yield running
        yield from rejudge_metrics(self.store)


def rejudge_metrics(store: Store) -> Iterator[Metric]:
    """The background rejudge towards the latest announced ruleset, across every process."""
    progress = store.rejudge_progress()
    if progress is None:
        return
    ruleset = progress.ruleset_hash[:12]
    pending = GaugeMetricFamily(
        "detonate_rejudge_pending",
        "Stored scans other rules judged, still to re-judge with the latest announced ruleset",
        labels=["ruleset"],
    )
    pending.add_metric([ruleset], progress.pending)
    yield pending
    claimed = GaugeMetricFamily(
        "detonate_rejudge_claimed", "Stored scans being re-judged now", labels=["ruleset"]
    )
    claimed.add_metric([ruleset], progress.claimed)
    yield claimed
    done = GaugeMetricFamily(
        "detonate_rejudge_done",
        "Stored scans the background rejudge finished for the latest ruleset, by outcome",
        labels=["ruleset", "outcome"],
    )
    for outcome, count in sorted(progress.done.items()):
        done.add_metric([ruleset, outcome], count)
    yield done


class FleetCollector(Collector):
    """With `serve --queue redis://…`: the broker's queues and the workers that answer."""

    def __init__(self, queue: CeleryQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        depths = GaugeMetricFamily(
            "detonate_fleet_queue_depth",
            "Scan tasks waiting in each broker queue",
            labels=["queue"],
        )
        for name, count in self.queue.depths().items():
            depths.add_metric([name], count)
        yield depths
        workers = GaugeMetricFamily(
            "detonate_fleet_workers", "Fleet workers that answered a ping within half a second"
        )
        workers.add_metric([], len(self.queue.workers()))
        yield workers


def exposition(store: Store, queue: ScanQueue) -> bytes:
    local = CollectorRegistry()
    local.register(StoreCollector(store, queue))
    if isinstance(queue, CeleryQueue):
        local.register(FleetCollector(queue))
    return generate_latest(REGISTRY) + generate_latest(local)
