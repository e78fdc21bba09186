"""A flood run has ~100k events: every detector must stay roughly linear over them."""

from __future__ import annotations

import time

from detonate.detect import run_detectors
from detonate.detect.correlations import CORRELATORS
from detonate.detect.interface import RunView
from detonate.model.events import (
    Event,
    NetworkConnected,
    NetworkSent,
    ProcessExecuted,
    ProcessExited,
    ProcessForked,
)
from detonate.model.netevents import HttpRequested
from detonate.model.runtime import Honeytoken

EVENTS = 100_000


def flood_run() -> RunView:
    events: list[Event] = [
        ProcessExecuted(seq=0, ts=0.0, pid=1, argv=("w", "http://v.test/", "1"), path="/w")
    ]
    for n in range(1, EVENTS // 3):
        ts = n / 5000
        src_port = 10_000 + n % 50_000
        events.append(
            NetworkConnected(
                seq=len(events), ts=ts, pid=1, family="AF_INET", address="198.18.0.2", port=80
            )
        )
        events.append(
            NetworkSent(
                seq=len(events), ts=ts, pid=1, family="AF_INET", address="198.18.0.2", port=80
            )
        )
        events.append(
            HttpRequested(
                seq=len(events),
                ts=ts + 0.0001,
                pid=0,
                method="GET",
                host="v.test",
                path=f"/?r={n}",
                headers=(("Host", "v.test"), ("User-Agent", "Mozilla/5.0")),
                src_ip="10.0.0.2",
                src_port=src_port,
                dst_ip="198.18.0.2",
                dst_port=80,
            )
        )
    token = Honeytoken("/root/.aws/credentials", "aws-credentials", "AKIADETONATE0000TEST")
    return RunView(events=tuple(events), honeytokens=(token,))


def test_all_detectors_over_a_100k_event_flood_take_seconds_not_minutes() -> None:
    run = flood_run()
    started = time.perf_counter()
    found = [f.rule_id for detector in CORRELATORS for f in detector.detect(run)]
    elapsed = time.perf_counter() - started
    assert "http-flood" in found
    assert elapsed < 15, f"{elapsed:.1f} s"


FORKS = 8_000


def fork_storm_run() -> RunView:
    """A shell that forks FORKS short children, all of one parent, as pipelines (`while :; do
    echo x | cat & done`, bounded): each producer's stdout a pipe its sibling reads."""
    events: list[Event] = [
        ProcessExecuted(seq=0, ts=0.0, pid=1, argv=("sh", "-c", "storm"), path="/bin/sh")
    ]
    for n in range(0, FORKS, 2):
        ts, pipe = n / 1000, f"pipe:[{1000 + n}]"
        for child, argv, ends in (
            (100 + n, ("echo", "x"), {"stdout": pipe}),
            (101 + n, ("cat",), {"stdin": pipe}),
        ):
            events.append(ProcessForked(seq=len(events), ts=ts, pid=1, child_pid=child))
            events.append(
                ProcessExecuted(
                    seq=len(events), ts=ts, pid=child, argv=argv, path=f"/bin/{argv[0]}", **ends
                )
            )
        for child in (100 + n, 101 + n):
            events.append(ProcessExited(seq=len(events), ts=ts + 0.0005, pid=child, exit_code=0))
    return RunView(events=tuple(events))


def test_all_detectors_over_a_fork_storm_take_seconds_not_minutes() -> None:
    run = fork_storm_run()
    started = time.perf_counter()
    found = run_detectors(run)
    elapsed = time.perf_counter() - started
    assert not found.failures, found.failures
    assert elapsed < 30, f"{elapsed:.1f} s"
