"""Operations: `detonate fleet status` and the fleet's lines on /metrics, against a real
redis-server, a real worker and a real PostgreSQL store."""

from __future__ import annotations

import subprocess

import pytest

from detonate.service.metrics import exposition
from detonate.store import ScanStatus, Source
from detonate.worker.status import fleet_status, render

from .conftest import DETONATE


@pytest.mark.slow
def test_fleet_status_and_metrics_see_queues_workers_and_the_oldest_scan(
    fleet, built_samples
) -> None:
    older = fleet.queue_sample(built_samples["benign-web"], Source.WEBHOOK, profile="static")
    fleet.queue_sample(built_samples["planted-static"], Source.WEBHOOK, profile="static")

    status = fleet_status(fleet.store, fleet.redis.url)
    assert status.workers == {} and status.running == []
    assert status.queues == {"detonate.urgent": 0, "detonate.backlog": 2}
    assert status.oldest_queued is not None and status.oldest_queued.id == older.id
    text = exposition(fleet.store, fleet.queue).decode()
    assert 'detonate_fleet_queue_depth{queue="detonate.backlog"} 2.0' in text
    assert "detonate_fleet_workers 0.0" in text
    assert "detonate_queue_depth 2.0" in text

    fleet.start_worker(name="w-status@%h")
    assert fleet.wait_for(older.id).status is ScanStatus.DONE
    text = exposition(fleet.store, fleet.queue).decode()
    assert "detonate_fleet_workers 1.0" in text

    shown = subprocess.run(
        [str(DETONATE), "fleet", "status", "--queue", fleet.redis.url, "--db", fleet.db_url],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "workers    1  w-status@" in shown
    assert "detonate.urgent 0" in shown
    assert render(fleet_status(fleet.store, fleet.redis.url)).count("\n") >= 3


def test_a_worker_refuses_a_queue_url_that_is_not_redis(tmp_path) -> None:
    shown = subprocess.run(
        [str(DETONATE), "worker", "--queue", "amqp://127.0.0.1//", "--cache-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode != 0
    assert "unsupported queue URL" in shown.stderr
