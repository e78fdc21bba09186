"""`detonate serve --queue redis://…` end to end: a scan requested over the REST API (HTTPS,
token) is carried by Redis to a `detonate worker` subprocess and lands in the shared
PostgreSQL store; the service's /metrics shows the broker's queues."""

from __future__ import annotations

import pytest

from detonate.worker import CeleryQueue
from service.live import live_service, make_tls_pair


@pytest.mark.slow
def test_a_scan_requested_over_the_api_runs_on_a_fleet_worker(
    fleet, built_samples, tmp_path
) -> None:
    sample = built_samples["planted-static"]
    tls = make_tls_pair(tmp_path / "tls")
    with live_service(
        tmp_path / "service",
        tls,
        fleet.db_url,
        queue_url=fleet.redis.url,
        unsafe_allow_local_references=True,
    ) as live:
        assert isinstance(live.service.queue, CeleryQueue)
        client = live.client()
        body = {"reference": sample.archive_reference, "profile": "static"}
        posted = client.post("/api/v1/scans", json=body)
        assert posted.status_code == 202, posted.text
        scan_id = posted.json()["id"]
        metrics = client.get("/metrics").text
        assert 'detonate_fleet_queue_depth{queue="detonate.urgent"} 1.0' in metrics

        fleet.start_worker()  # nothing ran in the service's process: the worker does it
        finished = live.wait(scan_id)
        assert (finished.status.value, finished.verdict) == ("done", "malicious")
        again = client.post("/api/v1/scans", json=body)
        assert again.status_code == 200 and again.json()["id"] == scan_id
        metrics = client.get("/metrics").text
        assert 'detonate_fleet_queue_depth{queue="detonate.urgent"} 0.0' in metrics
        assert "detonate_fleet_workers 1.0" in metrics
