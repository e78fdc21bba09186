"""Issue 9, item 1: the store's scans judged again when the rules change. Real sandboxed scans
of a factory image, through the worker's `run_scan`, on SQLite and a real PostgreSQL: the run
record is kept in the store, a rule added later changes the stored verdict (the old one stays
in the history, admission and Harbor read the new one), unchanged rules re-judge nothing, a
record that cannot be read is reported and its report kept, and a rejudge running beside
scans and another rejudge loses and duplicates nothing."""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from detonate.cli.main import main
from detonate.model.report import Report
from detonate.pipeline import rejudge
from detonate.queue.worker import run_scan
from detonate.rules.loader import forget_fingerprints, ruleset_hash
from detonate.store import ScanStatus, Source, Store
from detonate.store.models import DroppedFileCopy, Judgement, RunRecordRow
from detonate.store.rejudge import Outcome, rejudge_store
from detonate.store.stored_runs import materialized

from .stored_scans import CRON, Scanned
from .stored_scans import stored as stored_scan


def _judgement_count(store: Store, scan_id: str) -> int:
    with store.engine.connect() as connection:
        query = select(func.count()).where(Judgement.scan_id == scan_id)
        return int(connection.execute(query).scalar_one())


@pytest.mark.sandbox
def test_a_rule_added_later_changes_the_verdict_of_a_worker_scan(
    store: Store, scanned: Scanned, later_rules: Path
) -> None:
    digest = scanned.report.image.digest
    requested, _ = store.request_scan(
        f"oci-archive:{scanned.archive}", digest=digest, platform="linux/amd64", source=Source.API
    )
    done = run_scan(store, requested.id, scanned.options)  # the worker's own path
    assert done is not None and done.status is ScanStatus.DONE, done
    before = done.verdict
    assert before != "malicious", before  # else the later rule could not change it
    assert done.judged_ruleset_hash == ruleset_hash() and done.rejudged_at is None
    kept = store.stored_run(requested.id)
    assert kept is not None and kept.data is not None, kept
    assert kept.copies, "the dropped files' copies are kept with the record"

    unchanged = rejudge_store(store)  # the rules that judged it: nothing to do
    assert unchanged.outcomes == []

    summary = rejudge_store(store, later_rules)

    (outcome,) = summary.outcomes
    assert (outcome.outcome, outcome.before, outcome.after) == (
        Outcome.CHANGED,
        before,
        "malicious",
    )
    now = store.get_scan(requested.id)
    assert now is not None and now.verdict == "malicious"
    assert now.deciding_rule == "state-written"
    assert now.judged_ruleset_hash == ruleset_hash(later_rules) == summary.ruleset_hash
    assert now.rejudged_at is not None and now.finished_at == done.finished_at
    history = store.judgements(requested.id)
    assert [(j.kind, j.verdict, j.ruleset_hash) for j in history] == [
        ("scan", before, ruleset_hash()),
        ("rejudge", "malicious", ruleset_hash(later_rules)),
    ]
    # What admission decides on, and the report Harbor's adapter serves:
    verdict = store.verdict_for(digest)
    assert verdict is not None and verdict.verdict == "malicious"
    assert verdict.ruleset_hash == ruleset_hash(later_rules) and verdict.rejudged_at is not None
    document = json.loads(store.report_json(requested.id) or "{}")
    assert document["verdict"] == "malicious"
    assert document["ruleset_hash"] == ruleset_hash(later_rules)
    assert "state-written" in {f["rule_id"] for f in document["findings"]}

    assert rejudge_store(store, later_rules).outcomes == []  # judged by these rules now


@pytest.mark.sandbox
def test_the_same_rules_judge_a_stored_run_as_the_scan_did(store: Store, scanned: Scanned) -> None:
    scan_id = stored_scan(store, scanned, 1)

    summary = rejudge_store(store, everything=True)

    (outcome,) = summary.outcomes
    assert outcome.outcome is Outcome.IDENTICAL, outcome
    assert outcome.after == scanned.report.verdict.value
    assert _judgement_count(store, scan_id) == 1  # nothing written
    kept = store.stored_run(scan_id)
    assert kept is not None
    with materialized(kept) as run_dir:
        again = rejudge(run_dir)
    assert _judged(again) == _judged(scanned.report)
    # The cron line is judged from its text, read from the stored copy of the dropped file.
    paths = {e.path for f in again.findings for e in f.evidence}
    assert CRON in paths, paths


def _judged(report: Report) -> tuple[object, ...]:
    findings = sorted((f.rule_id, tuple(e.path for e in f.evidence)) for f in report.findings)
    return report.verdict, report.score, findings


@pytest.mark.sandbox
def test_a_record_that_cannot_be_read_is_reported_and_the_report_kept(
    store: Store, scanned: Scanned, later_rules: Path
) -> None:
    corrupt = stored_scan(store, scanned, 1)
    newer = stored_scan(store, scanned, 2)
    missing = stored_scan(store, scanned, 3)
    good = stored_scan(store, scanned, 4)
    no_copies = stored_scan(store, scanned, 5)
    newer_record = json.loads(gzip.decompress(scanned.run.data or b""))
    newer_data = gzip.compress(json.dumps({**newer_record, "version": 99}).encode())
    with store.engine.begin() as connection:
        connection.execute(
            update(RunRecordRow).where(RunRecordRow.scan_id == corrupt).values(data=b"\x1f\x8bxx")
        )
        connection.execute(
            update(RunRecordRow).where(RunRecordRow.scan_id == newer).values(data=newer_data)
        )
        connection.execute(RunRecordRow.__table__.delete().where(RunRecordRow.scan_id == missing))
        connection.execute(
            update(RunRecordRow).where(RunRecordRow.scan_id == no_copies).values(copies="")
        )
    reports = {i: store.report_json(i) for i in (corrupt, newer, missing, no_copies)}

    summary = rejudge_store(store, later_rules)

    by_id = {o.scan_id: o for o in summary.outcomes}
    assert by_id[good].outcome is Outcome.CHANGED
    assert {by_id[i].outcome for i in (corrupt, newer, no_copies)} == {Outcome.NOT_REJUDGED}
    assert by_id[missing].outcome is Outcome.NO_RECORD
    assert "is corrupt" in by_id[corrupt].reason, by_id[corrupt].reason
    assert "format version 99, newer" in by_id[newer].reason, by_id[newer].reason
    assert "no run record kept" in by_id[missing].reason, by_id[missing].reason
    assert "dropped files are missing" in by_id[no_copies].reason, by_id[no_copies].reason
    for scan_id, text in reports.items():
        assert store.report_json(scan_id) == text  # the report stays, untouched
        kept = store.get_scan(scan_id)
        assert kept is not None and kept.verdict == scanned.report.verdict.value
        assert kept.judged_ruleset_hash == ruleset_hash() and kept.rejudged_at is None
        assert _judgement_count(store, scan_id) == 1


@pytest.mark.sandbox
def test_rejudges_beside_a_running_scan_lose_and_duplicate_nothing(
    store: Store, scanned: Scanned, later_rules: Path
) -> None:
    stored = [stored_scan(store, scanned, number) for number in range(1, 13)]
    running, _ = store.request_scan(
        f"oci-archive:{scanned.archive}",
        digest=scanned.report.image.digest,
        platform="linux/amd64",
        source=Source.API,
    )
    summaries = []
    errors: list[BaseException] = []

    def rejudge_all() -> None:
        try:
            summaries.append(rejudge_store(store, later_rules))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    def scan_one() -> None:
        try:
            assert run_scan(store, running.id, scanned.options) is not None
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=t) for t in (rejudge_all, rejudge_all, scan_one)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    changed = Counter(
        o.scan_id for s in summaries for o in s.outcomes if o.outcome is Outcome.CHANGED
    )
    # each stored scan exactly once, by one of the two (and the new scan, if it finished
    # before a rejudge listed the scans to take)
    assert set(stored) <= set(changed) <= {*stored, running.id}
    assert set(changed.values()) == {1}
    others = {o.outcome for s in summaries for o in s.outcomes if o.outcome is not Outcome.CHANGED}
    assert others <= {Outcome.RACED}
    for scan_id in stored:
        assert [j.kind for j in store.judgements(scan_id)] == ["scan", "rejudge"]
        now = store.get_scan(scan_id)
        assert now is not None and now.verdict == "malicious"
    finished = store.get_scan(running.id)
    assert finished is not None and finished.status is ScanStatus.DONE
    assert len(store.judgements(running.id)) in (1, 2)  # its own, and a rejudge if it was listed
    kept = store.stored_run(running.id)
    assert kept is not None and kept.data is not None


@pytest.mark.sandbox
def test_the_command_lists_and_counts_the_changes(
    store: Store,
    scanned: Scanned,
    later_rules: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    changed = stored_scan(store, scanned, 1)
    unreadable = stored_scan(store, scanned, 2)
    with store.engine.begin() as connection:
        connection.execute(
            update(RunRecordRow).where(RunRecordRow.scan_id == unreadable).values(data=b"junk")
        )
    url = store.engine.url.render_as_string(hide_password=False)
    command = ["rejudge", "--db", url, "--rules", str(later_rules), "--no-progress"]

    assert main([*command, "--format", "json"]) == 1  # one scan could not be re-judged
    document = json.loads(capsys.readouterr().out)
    assert document["ruleset_hash"] == ruleset_hash(later_rules)
    assert document["counts"]["changed"] == 1 and document["counts"]["not-rejudged"] == 1
    outcomes = {s["id"]: s for s in document["scans"]}
    assert outcomes[changed]["before"] == scanned.report.verdict.value
    assert outcomes[changed]["after"] == "malicious"
    assert "is corrupt" in outcomes[unreadable]["reason"]

    assert main(command) == 1  # the unreadable one is taken again, the changed one not
    out, err = capsys.readouterr()
    assert "0 verdicts changed" in " ".join(out.split()) and changed not in out
    assert unreadable in err and "report is kept" in " ".join(err.split())

    assert main(["rejudge"]) == 2
    assert "give RUN_DIR, or --db URL" in capsys.readouterr().err

    broken = tmp_path / "broken-rules"
    broken.mkdir()
    (broken / "broken.yaml").write_text("title: [unclosed\n")
    forget_fingerprints()
    assert main(["rejudge", "--db", url, "--rules", str(broken), "--all"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert [j.kind for j in store.judgements(changed)] == ["scan", "rejudge"]  # untouched


@pytest.mark.sandbox
def test_dropped_file_copies_go_with_the_last_record_that_names_them(
    store: Store, scanned: Scanned
) -> None:
    first = stored_scan(store, scanned, 1)
    second = stored_scan(store, scanned, 2)  # the same dropped files: the copies are shared
    copies = set(scanned.run.copies)
    assert copies, "the scan dropped files"

    def kept() -> set[str]:
        with store.engine.connect() as connection:
            return set(connection.execute(select(DroppedFileCopy.sha256)).scalars())

    assert kept() == copies
    # A report stored over the scan without a record (as a CLI `--store` scan of the same
    # image and rules does): the other scan still names the copies, so they stay.
    store.record_report(first, scanned.report)
    assert store.stored_run(first) is None and kept() == copies
    second_run = store.stored_run(second)
    assert second_run is not None and set(second_run.copies) == copies

    store.record_report(second, scanned.report)

    assert kept() == set()  # no record names them any more
