"""The store on SQLite and on a real PostgreSQL: schema by migration, idempotent scan requests,
the verdict lookup admission relies on, reports with de-duplicated IOCs, tokens, restarts."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, inspect, select, text

from detonate.errors import StoreError
from detonate.model.report import Report, Verdict
from detonate.store import MAX_ATTEMPTS, ScanFilter, ScanStatus, Source, Store, schema
from detonate.store.models import Base, Image, Ioc, Scan, ScanIoc, Token
from detonate.store.store import VERDICT_QUERY

DIGEST = "sha256:" + "1" * 64
OTHER = "sha256:" + "2" * 64
INDEX = "sha256:" + "3" * 64


def request(store: Store, digest: str = DIGEST, **extra: object):
    kwargs = {"digest": digest, "platform": "linux/amd64", "source": Source.API, **extra}
    return store.request_scan(f"docker://registry.test/app@{digest}", **kwargs)  # type: ignore[arg-type]


def finish(store: Store, report: Report, digest: str = DIGEST, **extra: object) -> str:
    scan, _ = request(store, digest, **extra)
    assert store.mark_running(scan.id) is not None
    store.record_report(scan.id, report)
    return scan.id


def test_open_migrates_to_head_and_the_models_match_the_migrations(store: Store) -> None:
    assert schema.current(store.engine) == schema.head()
    tables = set(inspect(store.engine).get_table_names())
    assert {"images", "tag_observations", "scans", "findings", "iocs", "scan_iocs"} <= tables
    assert {"artifacts", "scan_artifacts", "admission_decisions", "tokens"} <= tables
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    Store.open(store.engine.url.render_as_string(hide_password=False)).close()  # idempotent


def test_request_is_idempotent_by_cache_key(store: Store) -> None:
    first, created = request(store)
    again, created_again = request(store)
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.status is ScanStatus.QUEUED
    other_platform, created = request(store, platform="linux/arm64")
    other_profile, created_too = request(store, profile="static")
    other_rules, created_three = request(store, ruleset="0" * 64)
    assert created and created_too and created_three
    assert len({first.id, other_platform.id, other_profile.id, other_rules.id}) == 4


def test_concurrent_requests_for_one_digest_make_one_scan(store: Store) -> None:
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(16)

    def ask() -> None:
        barrier.wait()
        scan, created = request(store)
        results.append((scan.id, created))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({scan_id for scan_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Scan)) == 1


def test_claim_counts_attempts_and_only_one_worker_gets_a_scan(store: Store) -> None:
    scan, _ = request(store)
    claimed = store.mark_running(scan.id)
    assert claimed is not None and claimed.attempts == 1 and claimed.started_at is not None
    assert store.mark_running(scan.id) is None  # running already
    again, created = request(store)
    assert (again.status, created) == (ScanStatus.RUNNING, False)


def test_a_cancel_fails_an_active_scan_but_never_one_that_finished_first(store: Store) -> None:
    scan, _ = request(store)
    store.mark_running(scan.id)
    cancelled = store.cancel(scan.id, "cancelled while running")
    assert cancelled is not None
    assert (cancelled.status, cancelled.reason) == (ScanStatus.FAILED, "cancelled while running")
    assert store.cancel(scan.id, "again") is None  # over already: left as it is
    poisoned, _ = request(store)  # failed: a new request queues it again
    store.mark_poisoned(poisoned.id, "killed its worker twice")
    assert store.cancel(poisoned.id, "late") is None
    assert store.get_scan(poisoned.id).reason == "killed its worker twice"


def test_failed_scan_is_queued_again_by_a_new_request_but_a_poisoned_one_is_not(
    store: Store,
) -> None:
    scan, _ = request(store)
    store.mark_running(scan.id)
    store.mark_failed(scan.id, "registry went away")
    retried, created = request(store)
    assert (retried.id, retried.status, retried.attempts, created) == (
        scan.id,
        ScanStatus.QUEUED,
        0,
        True,
    )
    store.mark_poisoned(scan.id, "killed its worker 3 times")
    kept, created = request(store)
    assert (kept.status, kept.reason, created) == (
        ScanStatus.POISONED,
        "killed its worker 3 times",
        False,
    )


def test_record_report_stores_verdict_findings_iocs_and_the_document(
    store: Store, planted_report: Report
) -> None:
    scan_id = finish(store, planted_report, planted_report.image.digest)
    record = store.get_scan(scan_id)
    assert record is not None
    assert (record.status, record.verdict) == (ScanStatus.DONE, "malicious")
    assert record.score == planted_report.score and record.duration_seconds is not None
    assert record.deciding_rule in {f.rule_id for f in planted_report.findings}
    text_report = store.report_json(scan_id)
    assert text_report is not None and '"verdict": "malicious"' in text_report
    with store.engine.connect() as connection:
        rules = set(
            connection.scalars(text(f"SELECT rule_id FROM findings WHERE scan_id = '{scan_id}'"))
        )
    assert rules == {f.rule_id for f in planted_report.findings}
    assert planted_report.iocs.wallets


def test_an_ioc_seen_by_two_scans_is_stored_once(store: Store, planted_report: Report) -> None:
    first = finish(store, planted_report, DIGEST)
    second = finish(store, planted_report, OTHER)
    wallet = planted_report.iocs.wallets[0]
    with store.engine.connect() as connection:
        rows = connection.execute(select(Ioc.id).where(Ioc.kind == "wallet", Ioc.value == wallet))
        ids = [row[0] for row in rows]
        assert len(ids) == 1
        linked = set(connection.scalars(select(ScanIoc.scan_id).where(ScanIoc.ioc_id == ids[0])))
    assert linked == {first, second}


def test_verdict_for_is_the_latest_done_scan_of_the_digest(
    store: Store, planted_report: Report
) -> None:
    assert store.verdict_for(DIGEST) is None
    queued, _ = request(store)
    assert store.verdict_for(DIGEST) is None  # not finished: no verdict yet
    store.mark_running(queued.id)
    store.record_report(queued.id, planted_report)
    found = store.verdict_for(DIGEST, "linux/amd64")
    assert found is not None
    assert (found.verdict, found.scan_id, found.score) == (
        "malicious",
        queued.id,
        planted_report.score,
    )
    assert found.rule_id and found.title
    assert store.verdict_for(DIGEST, "linux/arm64") is None
    clean = replace(planted_report, verdict=Verdict.CLEAN, score=0, findings=())
    newer = finish(store, clean, DIGEST, ruleset="f" * 64)  # rules changed: a new scan
    latest = store.verdict_for(DIGEST)
    assert latest is not None and (latest.scan_id, latest.verdict, latest.rule_id) == (
        newer,
        "clean",
        "",
    )


def test_verdict_for_answers_for_the_manifest_list_digest_too(
    store: Store, planted_report: Report
) -> None:
    scan_id = finish(store, planted_report, DIGEST, index_digest=INDEX)
    found = store.verdict_for(INDEX)
    assert found is not None and found.scan_id == scan_id and found.digest == DIGEST


def test_error_reports_are_not_verdicts(store: Store, planted_report: Report) -> None:
    finish(store, replace(planted_report, verdict=Verdict.ERROR), DIGEST)
    assert store.verdict_for(DIGEST) is None


def test_verdict_lookup_is_one_query_on_its_index(store: Store) -> None:
    # Enough finished scans, with statistics, for the planner's choice to mean something.
    many = 2000
    when = datetime.now(UTC)
    with store.engine.begin() as connection:
        connection.execute(
            insert(Image),
            [
                {"id": n + 1, "digest": f"sha256:{n:064x}", "platform": "linux/amd64"}
                | {"config_digest": "", "index_digest": "", "first_seen": when}
                for n in range(many)
            ],
        )
        connection.execute(
            insert(Scan),
            [
                {"id": f"scan-{n}", "cache_key": f"{n:064x}", "image_id": n + 1}
                | {"reference": "registry.test/app", "digest": f"sha256:{n:064x}"}
                | {"platform": "linux/amd64", "tool_version": "0", "ruleset_hash": ""}
                | {"profile": "full", "source": "api", "priority": 0, "status": "done"}
                | {"stage": "", "attempts": 1, "reason": "", "created_at": when}
                | {"finished_at": when, "verdict": "clean", "score": 0}
                | {"deciding_rule": "", "deciding_title": ""}
                for n in range(many)
            ],
        )
    bound = VERDICT_QUERY.params(digest=f"sha256:{7:064x}", platform="linux/amd64")
    sql = str(bound.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    with store.engine.connect() as connection:
        explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
        plan = connection.exec_driver_sql(explain + sql).fetchall()
    lines = [str(row) for row in plan]
    assert any("ix_scans_verdict_lookup" in line for line in lines), lines
    # no pass over every done scan: the status-only index would mean reading them all
    assert not any("ix_scans_status_priority" in line for line in lines), lines


def test_restart_requeues_running_scans_and_poisons_after_three_attempts(store: Store) -> None:
    fresh, _ = request(store)
    store.mark_running(fresh.id)
    doomed, _ = request(store, OTHER)
    for attempt in range(MAX_ATTEMPTS):
        assert store.mark_running(doomed.id) is not None
        if attempt < MAX_ATTEMPTS - 1:
            requeued, poisoned = store.requeue_interrupted()
            assert doomed.id in {r.id for r in requeued}
    requeued, poisoned = store.requeue_interrupted()
    assert [r.id for r in poisoned] == [doomed.id]
    gone = store.get_scan(doomed.id)
    assert gone is not None and gone.status is ScanStatus.POISONED
    assert f"{MAX_ATTEMPTS} attempts" in gone.reason
    assert {r.id for r in store.active_scans()} == {fresh.id}


def test_list_filters(store: Store, planted_report: Report) -> None:
    finish(store, planted_report, DIGEST)
    request(store, OTHER)
    assert [s.digest for s in store.list_scans(ScanFilter(verdict="malicious"))] == [DIGEST]
    assert [s.digest for s in store.list_scans(ScanFilter(status=ScanStatus.QUEUED))] == [OTHER]
    assert [s.digest for s in store.list_scans(ScanFilter(image=OTHER))] == [OTHER]
    assert len(store.list_scans(ScanFilter(image="registry.test/app"))) == 2
    assert len(store.list_scans(ScanFilter(image="100%_"))) == 0  # LIKE wildcards are text
    assert len(store.list_scans(ScanFilter(limit=1))) == 1
    assert [s.digest for s in store.list_scans(status=ScanStatus.QUEUED)] == [OTHER]
    hour_ago_elsewhere = (datetime.now(UTC) - timedelta(hours=1)).astimezone(
        timezone(timedelta(hours=5))
    )
    assert len(store.list_scans(ScanFilter(since=hour_ago_elsewhere))) == 2
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    assert store.list_scans(ScanFilter(since=in_an_hour)) == []
    assert store.list_scans(ScanFilter(since=in_an_hour.replace(tzinfo=None))) == []


def test_tag_history_keeps_where_a_tag_pointed(store: Store) -> None:
    store.observe_tag("registry.test/app", "1", DIGEST, Source.WEBHOOK)
    store.observe_tag("registry.test/app", "1", OTHER, Source.ADMISSION)
    history = store.tag_history("registry.test/app", "1")
    assert [(h.digest, h.source) for h in history] == [
        (OTHER, Source.ADMISSION),
        (DIGEST, Source.WEBHOOK),
    ]
    assert store.latest_digest("registry.test/app", "1") == OTHER
    with pytest.raises(ValueError):
        store.observe_tag("registry.test/app", "1", DIGEST, "carrier-pigeon")


def test_admission_decisions_are_recorded(store: Store) -> None:
    store.record_admission(
        image="registry.test/app:1",
        digest=DIGEST,
        allowed=False,
        verdict="malicious",
        policy="warn",
        message="denied: stratum-mining",
        namespace="team",
        kind="Deployment",
        name="web",
    )
    [decision] = store.admissions()
    assert (decision.allowed, decision.kind, decision.verdict) == (False, "Deployment", "malicious")


def test_tokens_are_stored_hashed_and_checked(store: Store) -> None:
    token = store.create_token("ci")
    assert token.startswith("dtn_") and len(token) > 40
    assert store.check_token(token)
    assert not store.check_token(token[:-1])
    assert not store.check_token("")
    with store.engine.connect() as connection:
        stored = list(connection.scalars(select(Token.token_hash)))
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64
    with pytest.raises(StoreError, match="exists already"):
        store.create_token("ci")
    assert store.token_names() == ["ci"]


def test_a_bad_url_or_unreachable_database_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(StoreError, match="bad database URL"):
        Store.open("not a url")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open("postgresql://nobody@127.0.0.1:1/none", upgrade=False)


def test_open_without_upgrading_runs_no_migration_and_uses_an_upgraded_store(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'detonate.db'}"
    fresh = Store.open(url, upgrade=False)  # what a fleet worker's scan process does
    assert inspect(fresh.engine).get_table_names() == []  # no migration ran
    fresh.close()
    Store.open(url).close()  # the worker's main process, before it forks
    store = Store.open(url, upgrade=False)
    scan, created = request(store)
    assert created and store.get_scan(scan.id) is not None
    store.close()
