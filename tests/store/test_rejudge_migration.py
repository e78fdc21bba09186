"""Migration 0901 (issue 9: re-judging stored scans) on SQLite and a real PostgreSQL: a store
of the previous revision keeps its scans, whose verdicts become their first judgements; the
downgrade takes the new tables and columns away again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text

from detonate.store import Store, schema
from detonate.store.store import _psycopg

PREVIOUS = "0101"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'detonate.db'}"
    return str(request.getfixturevalue("postgres_server").new_database())


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = create_engine(_psycopg(url))
    yield made
    made.dispose()


def _migrate(engine: Engine, revision: str, down: bool = False) -> None:
    config = schema._config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_scans_of_the_previous_revision_keep_their_verdict_as_first_judgement(
    url: str, engine: Engine
) -> None:
    _migrate(engine, PREVIOUS)
    finished = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO images (id, digest, platform, config_digest, index_digest,"
                " first_seen) VALUES (1, 'sha256:aa', 'linux/amd64', '', '', :at)"
            ),
            {"at": finished},
        )
        for number, (status, verdict) in enumerate(
            (("done", "suspicious"), ("queued", None), ("done", "clean"))
        ):
            connection.execute(
                text(
                    "INSERT INTO scans (id, cache_key, image_id, reference, digest, platform,"
                    " tool_version, ruleset_hash, profile, source, priority, status, stage,"
                    " attempts, reason, created_at, finished_at, verdict, score, deciding_rule,"
                    " deciding_title) VALUES (:id, :key, 1, 'registry.test/app:1', 'sha256:aa',"
                    " 'linux/amd64', '0.1', 'r', 'full', 'api', 0, :status, '', 1, '', :at,"
                    " :finished, :verdict, :score, :rule, '')"
                ),
                {
                    "id": f"scan-{number}",
                    "key": f"key-{number}",
                    "status": status,
                    "at": finished,
                    "finished": finished if verdict else None,
                    "verdict": verdict,
                    "score": 30 if verdict == "suspicious" else 0,
                    "rule": "some-rule" if verdict == "suspicious" else "",
                },
            )
        connection.execute(
            text(
                "INSERT INTO findings (scan_id, rule_id, title, category, technique, severity,"
                " confidence, runtime_only) VALUES ('scan-0', 'some-rule', 't', 'c', '', 'high',"
                " 'medium', true)"
            )
        )

    store = Store.open(url)  # upgrades to head
    try:
        assert schema.current(store.engine) == schema.head()
        (first,) = store.judgements("scan-0")
        assert (first.kind, first.verdict, first.score, first.deciding_rule) == (
            "scan",
            "suspicious",
            30,
            "some-rule",
        )
        assert (first.findings, first.ruleset_hash, first.judged_at) == (1, "", finished)
        assert [j.verdict for j in store.judgements("scan-2")] == ["clean"]
        assert store.judgements("scan-1") == []  # never finished: no verdict yet
        scan = store.get_scan("scan-0")
        assert scan is not None and (scan.judged_ruleset_hash, scan.rejudged_at) == ("", None)
        (candidate, _) = store.rejudge_candidates("0" * 64)
        assert candidate.id == "scan-0" and not candidate.has_record
    finally:
        store.close()

    _migrate(engine, PREVIOUS, down=True)
    tables = set(inspect(engine).get_table_names())
    assert not {"judgements", "run_records", "dropped_file_copies"} & tables
    columns = {c["name"] for c in inspect(engine).get_columns("scans")}
    assert not {"judged_ruleset_hash", "rejudged_at"} & columns
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM scans")).scalar_one() == 3
        # the scans' own rows survive the change of their table (no cascade from a copy)
        assert connection.execute(text("SELECT COUNT(*) FROM findings")).scalar_one() == 1
