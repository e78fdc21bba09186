"""Two scans at once on PostgreSQL: one replaces the last record that names a dropped-file copy
(and prunes the copy), the other stores a record that names the same copy. Whichever commits
first, the copy the surviving record names must still be there: a re-judge of that scan reads
it. On SQLite writers take turns, so there is no race to test."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detonate.store import Store, run_records
from detonate.store.models import DroppedFileCopy
from detonate.store.records import Source, StoredRun

COPY = "ab" * 32
BYTES = b"a dropped file's first bytes"


@pytest.fixture
def postgres_store(postgres_server) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    opened = Store.open(postgres_server.new_database())
    yield opened
    opened.close()


def _scan(store: Store, n: int) -> str:
    record, _ = store.request_scan(
        f"registry.test/race:{n}",
        digest=f"sha256:{n:064x}",
        platform="linux/amd64",
        source=Source.CLI,
    )
    return record.id


def _run() -> StoredRun:
    return StoredRun(data=b"record", copies={COPY: BYTES}, version=1)


def _copies(store: Store) -> set[str]:
    with Session(store.engine) as session:
        return set(session.scalars(select(DroppedFileCopy.sha256)))


def _blocked(thread: threading.Thread) -> bool:
    """Whether the thread is still waiting (on a row lock) after a while."""
    thread.join(timeout=1.0)
    return thread.is_alive()


@pytest.mark.parametrize("first", ["keeper", "pruner"])
def test_a_copy_a_new_record_names_survives_a_concurrent_prune(
    postgres_store: Store, first: str
) -> None:
    store = postgres_store
    pruned, kept = _scan(store, 1), _scan(store, 2)
    with Session(store.engine) as session, session.begin():
        run_records.keep(session, pruned, _run())  # the only record that names the copy
    assert _copies(store) == {COPY}

    keeper = Session(store.engine)  # stores the kept scan's record, naming the copy
    pruner = Session(store.engine)  # replaces the pruned scan's record with none
    errors: list[BaseException] = []

    def second(session: Session, scan_id: str, run: StoredRun | None) -> None:
        try:
            with session.begin():
                run_records.keep(session, scan_id, run)
        except BaseException as error:
            errors.append(error)

    if first == "keeper":
        keeper.begin()
        run_records.keep(keeper, kept, _run())
        thread = threading.Thread(target=second, args=(pruner, pruned, None))
        other = keeper
    else:
        pruner.begin()
        run_records.keep(pruner, pruned, None)
        thread = threading.Thread(target=second, args=(keeper, kept, _run()))
        other = pruner
    thread.start()
    waited = _blocked(thread)
    other.commit()
    thread.join(timeout=30)
    keeper.close()
    pruner.close()

    assert not thread.is_alive() and not errors, errors
    stored = store.stored_run(kept)
    assert stored is not None and set(stored.copies) == {COPY}, "the copy it names is there"
    assert store.stored_run(pruned) is None
    assert _copies(store) == {COPY}
    assert waited, "the second transaction waits for the first one's lock on the copy"
