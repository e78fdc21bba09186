"""Queues and fairness: urgent scans before the webhook backlog (a real worker on a real
redis-server), and the fleet-wide per-registry limit (its Redis semaphore, on a real Redis)."""

from __future__ import annotations

import time

import pytest

from detonate.store import ScanStatus, Source
from detonate.worker import BACKLOG, URGENT
from detonate.worker.celery_queue import queue_depths
from detonate.worker.registry_slots import KEY_PREFIX, RegistrySlots, registry_of


def test_registry_of_names_the_host_a_scan_pulls_from() -> None:
    assert registry_of("docker://registry.test:5000/team/app@sha256:" + "a" * 64) == (
        "registry.test:5000"
    )
    assert registry_of("docker://ghcr.io/o/app:1") == "ghcr.io"
    assert registry_of("docker://library/nginx:1") == "docker.io"
    assert registry_of("docker://localhost/app:1") == "localhost"
    assert registry_of("oci-archive:/tmp/x.tar") == ""  # local: not a registry's load
    assert registry_of("not a reference") == ""


def test_a_busy_registry_does_not_take_the_slots_of_another(redis_server) -> None:
    slots = RegistrySlots(redis_server.client(), limit=2)
    noisy, quiet = "noisy.test", "quiet.test"
    assert slots.acquire(noisy, "a") and slots.acquire(noisy, "b")
    assert not slots.acquire(noisy, "c")  # its share is running
    assert slots.acquire(quiet, "d")  # the other registry is not starved
    assert not slots.wait(noisy, "c", seconds=0.3, poll=0.1)
    slots.release(noisy, "a")
    assert slots.acquire(noisy, "c")
    assert slots.holders(noisy) == 2 and slots.holders(quiet) == 1


def test_the_slot_of_a_holder_that_stopped_renewing_frees_itself(redis_server) -> None:
    client = redis_server.client()
    slots = RegistrySlots(client, limit=1)
    assert slots.acquire("r.test", "dead-worker")
    assert not slots.acquire("r.test", "live-worker")
    # the dead worker's lease ran out (it renews every 15 s while alive; a SIGKILL stops that)
    client.zadd(KEY_PREFIX + "r.test", {"dead-worker": time.time() - 1})
    assert slots.acquire("r.test", "live-worker")
    assert slots.holders("r.test") == 1


def test_held_releases_its_slot_and_unlimited_means_no_slot(redis_server) -> None:
    slots = RegistrySlots(redis_server.client(), limit=1)
    with slots.held("r.test", "one") as got:
        assert got and slots.holders("r.test") == 1
        with slots.held("r.test", "two", wait_seconds=0.2) as second:
            assert not second
    assert slots.holders("r.test") == 0
    with RegistrySlots(redis_server.client(), limit=0).held("r.test", "x") as got:
        assert got


@pytest.mark.slow
def test_urgent_scans_run_before_the_webhook_backlog(fleet, built_samples) -> None:
    backlog = [
        fleet.queue_sample(built_samples[name], Source.WEBHOOK, profile="static")
        for name in ("benign-web", "delayed-dropper")
    ]
    urgent = [
        fleet.queue_sample(built_samples["planted-static"], Source.API, profile=profile)
        for profile in ("static", "full")
    ]
    assert queue_depths(fleet.redis.client()) == {URGENT: 2, BACKLOG: 2}

    fleet.start_worker()
    ran_first = [fleet.wait_for(r.id) for r in urgent]
    ran_last = [fleet.wait_for(r.id) for r in backlog]
    assert all(r.status is ScanStatus.DONE for r in ran_first + ran_last)
    # queued last, ran first, both of them (round-robin over the queues would interleave)
    assert max(r.started_at for r in ran_first) < min(r.started_at for r in ran_last)


@pytest.mark.slow
def test_a_registry_at_its_limit_does_not_hold_back_another_registrys_scan(
    fleet, registry, make_registry, built_samples
) -> None:
    """End to end, with two real registries and a real worker pulling from them: the first
    registry's one slot is held (by the test, playing another worker's scan), so the worker
    sends its scan back to the queue and runs the other registry's scan queued behind it."""
    busy = registry.push(built_samples["benign-web"].oci_reference, "fleet/web:1")
    other = make_registry().push(built_samples["planted-static"].oci_reference, "fleet/app:1")
    slots = RegistrySlots(fleet.redis.client(), limit=1)
    assert slots.acquire(registry_of(busy), "another-worker")
    waiting, behind = (fleet.queue_reference(ref, profile="static") for ref in (busy, other))
    worker = fleet.start_worker(extra=("--registry-limit", "1", "--unsafe-skip-tls-verify"))

    assert fleet.wait_for(behind.id).status is ScanStatus.DONE
    assert fleet.store.get_scan(waiting.id).status is ScanStatus.QUEUED
    assert f"{registry_of(busy)} has 1 scans running".encode() in worker.log.read_bytes()
    slots.release(registry_of(busy), "another-worker")
    finished = fleet.wait_for(waiting.id)
    assert (finished.status, finished.attempts) == (ScanStatus.DONE, 1), finished.reason
    assert finished.started_at > fleet.store.get_scan(behind.id).finished_at
