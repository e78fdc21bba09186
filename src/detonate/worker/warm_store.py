"""The store's statements compiled once, in the worker's main process, before it forks.

    store = Store.open(url)
    rehearse(store)          # a scan's whole course in the store, rolled back
    store.engine.dispose()   # no connection crosses the fork
    ...                      # each pool process: inherit(store)

SQLAlchemy compiles each statement once per engine (the cache is keyed by the engine's
dialect, the ORM's flush statements by the mapper and dialect). A fresh process per scan with
an engine of its own compiled every statement of its scan again: `record_report` cost 0.30 s
in a cold forked process against 0.17 s in a warm one (a cProfile, branch fleet12c). Here the
main process runs one scan's store calls — requested, claimed, its stage set, its report
recorded with findings, IOCs, a new artifact and a run record with a dropped-file copy — in a
transaction it rolls back, on the engine its pool processes then use. Nothing is written.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import cast

from sqlalchemy.engine import Connection, Engine

from detonate.model.findings import Category, Confidence, Finding, Severity
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.model.runtime import ChangeKind, ContentType, FileChange
from detonate.store import Source, Store
from detonate.store.records import StoredRun

DIGEST = "sha256:" + "0" * 64  # no image has it; the rows go with the rollback anyway


def rehearse(store: Store) -> None:
    """One scan's store calls, as a pool process makes them, in a transaction rolled back."""
    with store.engine.connect() as connection:
        connection.execution_options(detonate_write=True)  # SQLite: BEGIN IMMEDIATE
        transaction = connection.begin()
        try:
            # Each method's own transaction joins this one and cannot commit it.
            _scan_course(Store(cast(Engine, _OneConnection(connection))))
        finally:
            transaction.rollback()


class _OneConnection:
    """What `Store` asks of its engine, answered with one connection in one transaction:
    `connect()` (reads) and `execution_options()` (the writer's sessions bind to it)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def connect(self) -> AbstractContextManager[Connection]:
        return nullcontext(self.connection)

    def execution_options(self, **_: object) -> Connection:
        return self.connection


def _scan_course(store: Store) -> None:
    # A report's rows are flushed one by one or many at once (another statement), by count:
    # a clean scan, one of each and several of each.
    for count in (0, 1, 2):
        record, _ = store.request_scan(
            "oci-archive:rehearsal.invalid",
            digest=DIGEST,
            platform="linux/amd64",
            source=Source.API,
            ruleset=f"rehearsal-{count}",
        )
        store.get_scan(record.id)  # the task's take()
        store.mark_running(record.id)
        store.set_stage(record.id, "sandbox")
        store.record_report(record.id, rehearsal_report(count), _run(count))
        store.get_scan(record.id)


def rehearsal_report(count: int, name: str = "rehearsal") -> Report:
    """A report with `count` findings, IOCs of each kind and dropped files."""
    hashes = tuple(f"{name}-{n}".encode().hex().ljust(64, "0")[:64] for n in range(count))
    findings = tuple(
        Finding(
            rule_id=f"{name}-{n}",
            title=name,
            category=Category.INITIAL_EXECUTION,
            technique="T1059",
            severity=Severity.HIGH,
            confidence=Confidence.HIGH,
            source=f"runtime:{name}",
            runtime_only=True,
        )
        for n in range(count)
    )
    dropped = tuple(
        FileChange(f"/tmp/{name}-{n}", ChangeKind.CREATED, ContentType.SCRIPT, 1, 0o755, sha256)
        for n, sha256 in enumerate(hashes)
    )
    return Report(
        image=ImageInfo(f"oci-archive:{name}.invalid", DIGEST, "linux/amd64", DIGEST),
        verdict=Verdict.MALICIOUS if count else Verdict.CLEAN,
        score=100 if count else 0,
        findings=findings,
        iocs=Iocs(
            domains=tuple(f"{name}-{n}.invalid" for n in range(count)),
            ips=tuple(f"192.0.2.{n + 1}" for n in range(count)),
            urls=tuple(f"http://{name}-{n}.invalid/" for n in range(count)),
            wallets=tuple(f"{name}-{n}" for n in range(count)),
            pools=tuple(f"stratum+tcp://{name}-{n}.invalid:3333" for n in range(count)),
            file_hashes=hashes,
        ),
        files=dropped,
        ruleset_hash=name,
        tool_version=name,
    )


def _run(count: int) -> StoredRun:
    copies = {f"{n}".rjust(64, "0"): b"#" for n in range(count)}
    return StoredRun(b"{}", copies, version=1, recorded_at=datetime.now(UTC))


def inherit(store: Store) -> Store:
    """In a pool process: the main process's store and its compiled statements, on a
    connection pool of its own (the parent's connections are left to the parent)."""
    store.engine.dispose(close=False)
    return store
