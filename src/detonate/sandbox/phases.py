"""Where a run's wall time went: set-up, the run itself, collecting what it did, teardown.

Each phase ends where the next begins, so they add up to the whole `detonate()` call; the run
reports them (`RunInfo.phase_seconds`) so a slow set-up shows in the report, not only in a
benchmark.
"""

from __future__ import annotations

import time


class Phases:
    def __init__(self) -> None:
        self._since = time.monotonic()
        self._spent: dict[str, float] = {}

    def end(self, name: str) -> None:
        """The phase `name` ends now (and the next one begins)."""
        now = time.monotonic()
        self._spent[name] = self._spent.get(name, 0.0) + now - self._since
        self._since = now

    def seconds(self) -> tuple[tuple[str, float], ...]:
        return tuple((name, round(spent, 3)) for name, spent in self._spent.items())
