"""pipeline.scan run several times at once in one process (the service's worker pool) gives
each scan the report it gets alone; cancel ends a running sandbox promptly and cleanly.

The detection test interleaves two recorded runs (real strace output, tests/sandbox/corpus) on
threads many times over: before the run index lived on the RunView, a module-level "last run"
cache could hand one run's index to the other's detectors.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from detonate.detect import detect
from detonate.detect.interface import RunView
from detonate.factory import build_sample
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Report, Verdict
from detonate.pipeline import scan
from detonate.report import json_report
from detonate.sandbox.leftovers import DEFAULT_STATE_DIR
from detonate.sandbox.runc import CONTAINER_PREFIX
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "sandbox" / "corpus"
SCENARIOS = REPO / "samples" / "scenarios"


def corpus_run(name: str) -> RunView:
    meta = json.loads((CORPUS / f"{name}.json").read_text())
    interpreter = TraceInterpreter(init_pid=meta["init_pid"], t0=meta["t0"], sleep_floor=0.2)
    with open(CORPUS / f"{name}.strace") as lines:
        interpreter.feed_lines(lines)
    summary = interpreter.summary()
    return RunView(events=summary.events, processes=summary.processes)


def test_detection_of_runs_at_once_equals_each_alone() -> None:
    names = ["delayed_payload", "network", "privileged", "process_tree"]
    alone = {name: detect(corpus_run(name)).findings for name in names}
    assert any(alone.values()), "the corpus runs should give findings to compare"
    views = {name: corpus_run(name) for name in names}
    jobs = [name for _ in range(8) for name in names]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(lambda n: (n, detect(views[n]).findings), jobs))
    finally:
        sys.setswitchinterval(interval)
    for name, findings in together:
        assert findings == alone[name], name


def essence(report: Report) -> dict[str, Any]:
    """What must not depend on other scans running: the judgement and what it rests on."""
    document = json_report.to_document(report)
    return {
        "image": document["image"],
        "verdict": document["verdict"],
        "score": document["score"],
        "rules": sorted(f["rule_id"] for f in document["findings"]),
        "iocs": document["iocs"],
    }


def test_two_static_scans_at_once_equal_each_alone(built_samples, tmp_path) -> None:
    refs = [built_samples[n].archive_reference for n in ("planted-static", "benign-web")]
    options = ScanOptions(cache_dir=tmp_path / "cache", static_only=True)
    alone = [essence(scan(ref, options)) for ref in refs]
    with ThreadPoolExecutor(2) as pool:
        together = [essence(r) for r in pool.map(lambda ref: scan(ref, options), refs)]
    assert together == alone
    assert [a["verdict"] for a in alone] == ["malicious", "clean"]


@pytest.fixture(scope="module")
def runtime_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from sandbox.busybox_image import sandbox_available

    if not sandbox_available():
        pytest.skip("needs root, runc, strace and busybox-static")
    out = tmp_path_factory.mktemp("scenarios")
    names = ("t04-delayed-payload", "t01-hidden-miner")
    return {name: build_sample(SCENARIOS / name, out).archive_reference for name in names}


def _traced_run_of_this_process(within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for record in (DEFAULT_STATE_DIR / "runs").glob(f"{CONTAINER_PREFIX}*.json"):
            try:
                state = json.loads(record.read_text())
            except (OSError, ValueError):
                continue
            if state.get("owner_pid") == os.getpid() and state.get("tracer_pid"):
                return True
        time.sleep(0.05)
    return False


def _leftover_containers() -> list[str]:
    """Run records of this process's scans still on disk: a run's record is removed last, after
    its container, mounts and cgroups. (`runc list` without the sandbox's own root sees none of
    its containers, and with it sees those of every other scan on this machine.)"""
    ours = []
    for record in (DEFAULT_STATE_DIR / "runs").glob(f"{CONTAINER_PREFIX}*.json"):
        try:
            if json.loads(record.read_text()).get("owner_pid") == os.getpid():
                ours.append(record.stem)
        except (OSError, ValueError):
            continue  # removed meanwhile, or being written by its (other) owner
    return sorted(ours)


@pytest.mark.sandbox
@pytest.mark.slow
def test_two_sandbox_scans_at_once_equal_each_alone(runtime_samples, tmp_path) -> None:
    refs = list(runtime_samples.values())
    options = ScanOptions(
        cache_dir=tmp_path / "cache", sandbox=SandboxOptions(timeout_seconds=45, idle_seconds=6)
    )
    alone = [essence(scan(ref, options)) for ref in refs]
    with ThreadPoolExecutor(2) as pool:
        together = [essence(r) for r in pool.map(lambda ref: scan(ref, options), refs)]
    assert together == alone
    assert [a["verdict"] for a in alone] == ["malicious", "malicious"]
    assert _leftover_containers() == []


class _SandboxStarted:
    def __init__(self) -> None:
        self.event = threading.Event()

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        if task == "sandbox":
            self.event.set()

    def advance(self, task: str, amount: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


@pytest.mark.sandbox
@pytest.mark.slow
def test_cancel_ends_a_running_sandbox_promptly_and_tears_it_down(built_samples, tmp_path) -> None:
    # benign-web serves until idle: with a 40 s idle stop it would run 40 s without cancel.
    options = ScanOptions(
        cache_dir=tmp_path / "cache", sandbox=SandboxOptions(timeout_seconds=60, idle_seconds=40)
    )
    cancel, started = threading.Event(), _SandboxStarted()
    result: list[Report] = []
    worker = threading.Thread(
        target=lambda: result.append(
            scan(built_samples["benign-web"].archive_reference, options, started, cancel=cancel)
        )
    )
    worker.start()
    assert started.event.wait(120), "the sandbox never started"
    # The sample is running once its run record names its tracer (a busy machine's set-up can
    # take longer than any fixed pause), and a moment more.
    assert _traced_run_of_this_process(within=120), "the sample never started"
    time.sleep(1)
    cancelled_at = time.monotonic()
    cancel.set()
    worker.join(60)
    took = time.monotonic() - cancelled_at
    assert not worker.is_alive() and took < 15, took
    [report] = result
    assert report.verdict is Verdict.ERROR and report.error is not None
    assert report.error.kind == "ScanCancelled"
    assert _leftover_containers() == []


def test_the_run_index_belongs_to_its_run_not_to_the_last_one_indexed() -> None:
    from detonate.detect.correlations.run_index import index_of

    first, second = corpus_run("network"), corpus_run("privileged")
    index = index_of(first)
    assert index_of(second) is not index
    assert index_of(first) is index  # a "last run" cache would have built it again
    assert index.run is first
