"""What a fleet worker's main process prepares before it forks a fresh process per scan
(`task.preload`), found ready in the forked process instead of done again there: the rules,
every YARA size class, the store's ORM mappers and compiled statements, what Celery's
pool-process set-up imports, and a frozen heap."""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yara_x
from billiard.util import get_pdeathsig

from detonate.model.options import ScanOptions
from detonate.rules import loader
from detonate.sandbox.netsim.authority import CertificateAuthority
from detonate.static import yara_rules
from detonate.store import ScanStatus, Source, Store
from detonate.store.models import Base
from detonate.store.records import StoredRun
from detonate.worker import task
from detonate.worker.patient_store import PatientStore
from detonate.worker.task import preload
from detonate.worker.warm_store import DIGEST, inherit, rehearsal_report

SIZES = (0, 300_000, 1_500_000, 3_000_000, 5_000_000, 9_000_000, 100_000_000)


def _no_compiling(*_: Any, **__: Any) -> None:
    raise AssertionError("a YARA compile in the scan process")


def _in_the_scan_process() -> dict[str, Any]:
    """Run in the forked child: every rule the scan uses, with compiling made impossible."""
    modules = set(sys.modules)
    get_pdeathsig()  # the cffi call Celery's set-up of each pool process makes (set_pdeathsig)
    CertificateAuthority.generate("scan-process", CertificateAuthority.new_leaf_key())  # netsim
    imported = sorted(set(sys.modules) - modules)
    yara_x.Compiler = _no_compiling  # type: ignore[misc,assignment]
    rules_read = loader._load_rules.cache_info().misses
    compiled = yara_rules.compiled_rules()
    classes = [compiled.for_size(size) is not None for size in SIZES]
    loader.load_rules("runtime")
    loader.ruleset_hash()
    return {
        "mappers_configured": all(mapper.configured for mapper in Base.registry.mappers),
        "imported": imported,
        "classes": classes,
        "rule_files_read": loader._load_rules.cache_info().misses - rules_read,
        "frozen_objects": gc.get_freeze_count(),
    }


def _forked(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`work`'s answer from a process forked as Celery's prefork pool makes one."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the scan process
        os.close(reader)
        try:
            answer = work()
        except BaseException as error:  # reported to the parent, which fails the test
            answer = {"error": f"{type(error).__name__}: {error}"}
        os.write(writer, json.dumps(answer).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        answer: dict[str, Any] = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return answer


def test_a_forked_scan_process_finds_the_rules_compiled_and_the_heap_frozen() -> None:
    preload(ScanOptions())
    try:
        answer = _forked(_in_the_scan_process)
    finally:
        gc.unfreeze()  # this test process's heap back to the collector
    assert "error" not in answer, answer.get("error")
    assert answer["mappers_configured"]  # the store's ORM classes, before its first write
    assert answer["imported"] == []  # cffi's C parser, cryptography's backend: before the fork
    assert answer["classes"][0]  # small files: the whole rule set
    assert answer["rule_files_read"] == 0
    assert answer["frozen_objects"] > 10_000  # the modules and rules the parent built


def _scan_in_the_child(store: Store, scan_id: str) -> dict[str, Any]:
    """Run in the forked child: a scan's store calls on the inherited store, counting the
    statements SQLAlchemy compiles for them."""
    store = PatientStore.adopt(inherit(store))
    compiler = store.engine.dialect.statement_compiler
    compiled: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        made = compiler(*args, **kwargs)
        compiled.append(str(made)[:80])
        return made

    store.engine.dialect.statement_compiler = counting  # type: ignore[method-assign]
    store.get_scan(scan_id)
    store.mark_running(scan_id)
    store.set_stage(scan_id, "static")
    store.record_report(scan_id, rehearsal_report(3, "child"), StoredRun(b"{}", {"a" * 64: b"#"}))
    return {"compiled": compiled}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_forked_scan_process_writes_with_the_statements_its_parent_compiled(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task, "_warmed", None)  # this test process's, back to none after
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'detonate.db'}"
    else:
        url = request.getfixturevalue("postgres_server").new_database()
    store = Store.open(url)
    record, _ = store.request_scan(
        "oci-archive:child.invalid", digest=DIGEST, platform="linux/amd64", source=Source.API
    )
    preload(ScanOptions(), store)  # rehearses a scan in the store, rolled back
    try:
        answer = _forked(lambda: _scan_in_the_child(store, record.id))
    finally:
        gc.unfreeze()
    assert "error" not in answer, answer.get("error")
    # Every statement of the scan compiled by the parent (savepoints are never cached)
    assert [sql for sql in answer["compiled"] if "SAVEPOINT" not in sql] == []
    finished = store.get_scan(record.id)  # what the child wrote, read back
    assert finished is not None and finished.status is ScanStatus.DONE
    assert (finished.verdict, finished.deciding_rule) == ("malicious", "child-0")
    assert finished.attempts == 1
    assert len(store.judgements(record.id)) == 1
    kept = store.stored_run(record.id)
    assert kept is not None and kept.data == b"{}"
    assert [r.id for r in store.list_scans()] == [record.id]  # the rehearsal left no scan
    store.close()


def test_a_store_that_fails_its_warm_up_still_lets_the_worker_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(task, "_warmed", None)
    store = Store.open(f"sqlite:///{tmp_path / 'detonate.db'}")
    with store.engine.begin() as connection:  # the rehearsal's first write now fails
        connection.exec_driver_sql("DROP TABLE scans")
    try:
        preload(ScanOptions(), store)
    finally:
        gc.unfreeze()
    assert task._warmed is None  # each scan process opens a store of its own instead
    assert "not warmed" in caplog.text
    store.close()
