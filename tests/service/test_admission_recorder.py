"""Admission decisions are batched into the real store by one thread; a store that cannot keep
up loses new decisions (counted), never the answer's time."""

from __future__ import annotations

import threading
from typing import Any

from detonate.admission.record import AdmissionRecorder


def test_decisions_arrive_in_the_store(store: Any) -> None:
    recorder = AdmissionRecorder(store)
    for n in range(120):
        recorder.record(image=f"registry.test/app:{n}", allowed=n % 2 == 0, namespace="shop")
    assert recorder.flush()
    rows = store.admissions(limit=500)
    assert len(rows) == 120 == recorder.written
    assert {row.image for row in rows} == {f"registry.test/app:{n}" for n in range(120)}
    assert sum(row.allowed for row in rows) == 60


def test_a_stalled_store_drops_and_counts_instead_of_blocking() -> None:
    release = threading.Event()
    written: list[int] = []

    class Stalled:
        def record_admissions(self, decisions: list[dict[str, Any]]) -> int:
            release.wait(10)
            written.append(len(decisions))
            return len(decisions)

    recorder = AdmissionRecorder(Stalled(), max_waiting=5)
    for n in range(50):  # returns at once although nothing can be written
        recorder.record(image=f"a:{n}", allowed=True)
    assert recorder.dropped >= 40
    release.set()
    assert recorder.flush()
    assert sum(written) + recorder.dropped == 50
