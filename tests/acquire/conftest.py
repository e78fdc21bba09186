"""Helpers for the acquire tests: a Progress that records what it was told."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class RecordingProgress:
    calls: list[tuple[str, str, int | None]] = field(default_factory=list)

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        self.calls.append(("start", task, total))

    def advance(self, task: str, amount: int = 1) -> None:
        self.calls.append(("advance", task, amount))

    def finish(self, task: str) -> None:
        self.calls.append(("finish", task, None))

    def count(self, kind: str) -> int:
        return sum(1 for call in self.calls if call[0] == kind)


@pytest.fixture
def progress() -> RecordingProgress:
    return RecordingProgress()
