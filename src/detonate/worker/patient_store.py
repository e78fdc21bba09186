"""A store that waits out a database outage instead of losing the scan it is working on.

    store = PatientStore.open("postgresql://detonate@db/detonate", patience_seconds=300)
    store.record_report(scan_id, report)   # retried with backoff while PostgreSQL is down

A worker that finished a ten-minute scan must not drop the report because PostgreSQL restarted
meanwhile. Each store method is one transaction, so calling it again is safe; after
`patience_seconds` the error goes up and the task gives its message back to the broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy.exc import DBAPIError

from detonate.errors import StoreError
from detonate.store import Store

log = logging.getLogger("detonate.worker")
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0


def _unavailable(error: Exception) -> bool:
    """A connection-level failure (server down, restarted, unreachable), not a bad query."""
    if isinstance(error, StoreError):
        return "cannot open the store" in error.message
    return isinstance(error, DBAPIError) and (
        error.connection_invalidated
        or type(error).__name__ in ("OperationalError", "InterfaceError")
    )


def patiently(call: Callable[..., Any], patience_seconds: float, what: str) -> Callable[..., Any]:
    def retried(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + patience_seconds
        delay = FIRST_DELAY_SECONDS
        while True:
            try:
                return call(*args, **kwargs)
            except (DBAPIError, StoreError) as error:
                if not _unavailable(error) or time.monotonic() + delay > deadline:
                    raise
                log.warning("store unavailable during %s; retrying in %.1f s", what, delay)
                time.sleep(delay)
                delay = min(delay * 2, MAX_DELAY_SECONDS)

    return retried


class PatientStore:
    def __init__(self, store: Store, patience_seconds: float) -> None:
        self._store, self._patience = store, patience_seconds

    @classmethod
    def open(cls, url: str, patience_seconds: float = 300, upgrade: bool = True) -> Store:
        """A `Store` in all but name (every method retried while the database is down)."""
        store = patiently(Store.open, patience_seconds, "open")(url, upgrade)
        return cast(Store, cls(store, patience_seconds))

    @classmethod
    def adopt(cls, store: Store, patience_seconds: float = 300) -> Store:
        """`store` (a fleet worker's pool process inherits its main process's), connected
        once as `open` would: a database that is down is waited for here."""
        patiently(lambda: store.engine.connect().close(), patience_seconds, "open")()
        return cast(Store, cls(store, patience_seconds))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name.startswith("_") or not callable(attribute):
            return attribute
        return patiently(attribute, self._patience, name)
