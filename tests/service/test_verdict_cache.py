"""Admission's verdict cache over the real store: verdicts reused for their TTL, absence never."""

from __future__ import annotations

from detonate.admission.verdicts import VerdictCache
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.store import Source

DIGEST = "sha256:" + "d" * 64


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_verdict_is_read_once_per_ttl_and_absence_is_never_kept(store) -> None:
    clock = Clock()
    cache = VerdictCache(store, ttl_seconds=10, clock=clock)
    assert cache.verdict_for(DIGEST, "linux/amd64") is None
    scan, _ = store.request_scan(
        f"docker://a.test/b@{DIGEST}", digest=DIGEST, platform="linux/amd64", source=Source.CLI
    )
    store.record_report(scan.id, Report(ImageInfo("docker://a.test/b", DIGEST), Verdict.CLEAN, 0))
    assert cache.verdict_for(DIGEST, "linux/amd64").verdict == "clean"  # the scan finished: seen
    assert cache.verdict_for(DIGEST, "linux/amd64").verdict == "clean"
    assert cache.queries == 2
    clock.now += 11
    assert cache.verdict_for(DIGEST, "linux/amd64").verdict == "clean"
    assert cache.queries == 3
    assert cache.verdict_for(DIGEST, "linux/arm64") is None  # keyed by platform too
