"""Issue 9, item 1: the store's runs re-judged in the background when a service or worker starts
with other rules. Real background processes (`python -m detonate.store.background_rejudge`, as
`detonate serve` and `detonate worker` start them) over stored real sandboxed scans, on SQLite
and a real PostgreSQL: a rule added changes the verdict the API serves; a process killed
mid-way is resumed by the next start and no scan is re-judged twice; two processes at once take
each scan once; an older ruleset leaves the store to the newer one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from detonate.model.options import ScanOptions, StaticOptions
from detonate.rules.loader import ruleset_hash
from detonate.service.serve import running_service
from detonate.service.settings import Settings
from detonate.store import RejudgeProgress, Store
from detonate.store.background_rejudge import BackgroundRejudge, BackgroundSettings, Rejudger, start
from detonate.store.models import RejudgeMark, Scan
from detonate.worker.app import FleetConfig
from detonate.worker.run import _start_rejudge
from detonate.worker.status import FleetStatus, render

from .stored_scans import Scanned, stored

WAIT_SECONDS = 120  # the machine is shared: generous, and only the failure waits it out


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _finish(rejudging: BackgroundRejudge | None) -> None:
    assert rejudging is not None, "nothing was started"
    assert rejudging.process.wait(WAIT_SECONDS) == 0


def _marks(store: Store) -> dict[str, RejudgeMark]:
    with store._read() as session:
        return {mark.scan_id: mark for mark in session.scalars(select(RejudgeMark))}


def _kinds(store: Store, scan_id: str) -> list[str]:
    return [j.kind for j in store.judgements(scan_id)]


@pytest.mark.sandbox
def test_a_rule_added_changes_the_served_verdict_after_the_background_rejudge(
    store: Store, scanned: Scanned, later_rules: Path, tmp_path: Path
) -> None:
    scan_ids = [stored(store, scanned, number) for number in range(1, 4)]
    before = scanned.report.verdict.value
    assert before != "malicious", before  # else the added rule could not change it
    token = store.create_token("test")
    settings = Settings(
        cache_dir=tmp_path / "cache",
        db_url=_url(store),
        concurrency=1,
        scan=ScanOptions(
            cache_dir=tmp_path / "cache", static=StaticOptions(extra_rules_dir=later_rules)
        ),
    )
    with running_service(settings) as service, TestClient(service.app) as client:
        headers = {"Authorization": f"Bearer {token}"}

        def served(scan_id: str) -> str:
            answer = client.get(f"/api/v1/scans/{scan_id}", headers=headers)
            assert answer.status_code == 200, answer.text
            return str(answer.json()["verdict"])

        _wait(lambda: all(served(i) == "malicious" for i in scan_ids), "the new verdicts")
        progress = store.rejudge_progress()
        assert progress is not None and progress.ruleset_hash == ruleset_hash(later_rules)
        _wait(lambda: (store.rejudge_progress() or progress).pending == 0, "nothing pending")
        metrics = client.get("/metrics").text
        assert f'detonate_rejudge_pending{{ruleset="{progress.ruleset_hash[:12]}"}} 0.0' in metrics
        done = f'detonate_rejudge_done{{outcome="changed",ruleset="{progress.ruleset_hash[:12]}"}}'
        assert f"{done} 3.0" in metrics, metrics
        answer = client.get(f"/api/v1/scans/{scan_ids[0]}/judgements", headers=headers)
        verdicts = [(j["verdict"], j["ruleset_hash"]) for j in answer.json()["judgements"]]
        assert verdicts == [(before, ruleset_hash()), ("malicious", ruleset_hash(later_rules))]


@pytest.mark.sandbox
def test_switched_off_the_service_re_judges_nothing(
    store: Store, scanned: Scanned, later_rules: Path, tmp_path: Path
) -> None:
    scan_id = stored(store, scanned, 1)
    settings = Settings(
        cache_dir=tmp_path / "cache",
        db_url=_url(store),
        concurrency=1,
        background_rejudge=False,
        scan=ScanOptions(
            cache_dir=tmp_path / "cache", static=StaticOptions(extra_rules_dir=later_rules)
        ),
    )
    with running_service(settings):
        time.sleep(2)  # what a started background process would have needed for one scan
    assert store.latest_ruleset() is None  # nothing announced, nothing started
    assert _kinds(store, scan_id) == ["scan"]


@pytest.mark.sandbox
def test_a_restart_mid_way_resumes_and_re_judges_no_scan_twice(
    store: Store, scanned: Scanned, later_rules: Path
) -> None:
    scan_ids = [stored(store, scanned, number) for number in range(1, 9)]
    # Slow (2 a second) and short leases: killed after two, a claim it held lapses in 2 s.
    settings = BackgroundSettings(_url(store), later_rules, per_second=2, lease_seconds=2)
    first = start(store, settings, "test")
    assert first is not None
    _wait(lambda: (store.rejudge_progress() or _none()).finished >= 2, "two scans done")
    first.process.kill()  # SIGKILL: no goodbye, possibly mid-scan
    first.process.wait()
    halfway = store.rejudge_progress()
    assert halfway is not None and halfway.pending > 0, halfway  # killed mid-way indeed

    _finish(start(store, settings, "test"))

    end = store.rejudge_progress()
    assert end is not None and end.pending == 0 and end.claimed == 0
    assert end.done == {"changed": len(scan_ids)}, end
    for scan_id in scan_ids:
        assert _kinds(store, scan_id) == ["scan", "rejudge"]  # each once, none twice
        now = store.get_scan(scan_id)
        assert now is not None and now.verdict == "malicious"
    marks = _marks(store)
    # at most the one the killed process held is claimed twice (its lease lapsed)
    assert sum(mark.attempts for mark in marks.values()) <= len(scan_ids) + 1
    assert start(store, settings, "test") is None  # judged by these rules: nothing to start
    assert "8 done (8 changed), 0 now, 0 to go" in render(FleetStatus({}, {}, [], None, end))


def _none() -> RejudgeProgress:
    return RejudgeProgress("", None, "", 0, 0, {})


@pytest.mark.sandbox
def test_two_rejudgers_at_once_take_each_scan_once(
    store: Store, scanned: Scanned, later_rules: Path
) -> None:
    scan_ids = [stored(store, scanned, number) for number in range(1, 13)]
    settings = BackgroundSettings(_url(store), later_rules, per_second=50)

    both = [start(store, settings, "one"), start(store, settings, "two")]
    for rejudging in both:
        _finish(rejudging)

    marks = _marks(store)
    assert set(marks) == set(scan_ids)
    assert {(mark.attempts, mark.outcome) for mark in marks.values()} == {(1, "changed")}
    for scan_id in scan_ids:
        assert _kinds(store, scan_id) == ["scan", "rejudge"]
    owners = {mark.owner for mark in marks.values()}
    print(f"scans per process: { {o: sum(m.owner == o for m in marks.values()) for o in owners} }")


@pytest.mark.sandbox
def test_an_older_ruleset_leaves_the_store_to_the_newer_one(
    store: Store, scanned: Scanned, later_rules: Path
) -> None:
    scan_id = stored(store, scanned, 1)
    store.announce_ruleset(ruleset_hash(later_rules), "newer")
    older = Rejudger(store, BackgroundSettings(_url(store)), "older", threading.Event())
    # The default rules judged the stored scan, so make it look judged by others: the older
    # process would take it if it did not defer to the newer ruleset.
    with store._write() as session:
        row = session.get(Scan, scan_id)
        assert row is not None
        row.judged_ruleset_hash = "an-even-older-ruleset"

    assert older.run() == {}

    assert _kinds(store, scan_id) == ["scan"] and _marks(store) == {}


@pytest.mark.sandbox
@pytest.mark.parametrize("switched_on", [True, False])
def test_a_worker_re_judges_with_its_own_rules_unless_switched_off(
    store: Store, scanned: Scanned, later_rules: Path, switched_on: bool
) -> None:
    scan_id = stored(store, scanned, 1)
    config = FleetConfig(
        broker_url="redis://127.0.0.1:1/0",  # not reached: only the store is
        store_url=_url(store),
        scan=ScanOptions(static=StaticOptions(extra_rules_dir=later_rules)),
        background_rejudge=switched_on,
    )

    rejudging = _start_rejudge(store, config)  # what `detonate worker` does before Celery

    if not switched_on:
        assert rejudging is None and store.latest_ruleset() is None
        assert _kinds(store, scan_id) == ["scan"]
        return
    _finish(rejudging)
    assert store.latest_ruleset() == ruleset_hash(later_rules)
    assert _kinds(store, scan_id) == ["scan", "rejudge"]
