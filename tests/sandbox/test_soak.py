"""Issue 14's soak (benchmarks/soak.py): its quick mode leaves nothing behind, and its judgement
flags a counter that keeps growing while letting a one-time warm-up pass."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .busybox_image import sandbox_available

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"
REGISTRY = pytest.mark.registry  # the serve variant pushes its images to docker-registry


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def judged(samples: list[tuple[str, int, dict[str, float]]]) -> list[str]:
    soak = load_soak()
    runner = soak.Soak(soak.InProcess([], soak.ScanOptions()))
    runner.samples = samples
    runner.fds = [soak.Counter() for _ in samples]
    grew: list[str] = runner.judge()
    return grew


def counters(fds: float, mounts: float = 0, rss: float = 80.0) -> dict[str, float]:
    return {"fds": fds, "rss_mib": rss, "mounts": mounts, "host_mounts": 30.0}


def test_growth_after_the_warm_up_fails_and_the_warm_up_alone_does_not() -> None:
    warm_up_only = [
        ("before", 0, counters(6)),
        ("warm", 3, counters(13)),
        ("every", 10, counters(13)),
        ("in a row", 20, counters(13)),
        ("round 1", 28, counters(33)),  # a new worker thread's kept connections: once
        ("round 2", 36, counters(34)),
        ("after", 36, counters(34)),
    ]
    assert judged(warm_up_only) == []
    leaking = [
        ("before", 0, counters(6)),
        ("warm", 3, counters(13)),
        ("every", 10, counters(16, mounts=1)),
        ("in a row", 20, counters(19, mounts=2, rss=140.0)),
        ("after", 20, counters(19, mounts=2, rss=140.0)),
    ]
    assert judged(leaking) == ["fds", "rss_mib", "mounts"]


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize(
    "variant",
    [pytest.param([], id="in-process"), pytest.param(["--serve"], id="serve", marks=REGISTRY)],
)
def test_quick_soak_leaves_nothing_behind(variant: list[str]) -> None:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and busybox")
    done = subprocess.run(
        [sys.executable, str(SOAK), "--quick", *variant],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = re.search(r"^(\d+) scans in \d+ s, (\d+) sandbox runs seen$", done.stdout, re.M)
    assert summary is not None, done.stdout[-3000:]
    assert summary.groups() == ("9", "9"), summary[0]  # 5 + 2 × 2
    assert "OK: nothing but the bounded cache grew" in done.stdout
