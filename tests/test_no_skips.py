"""DETONATE_NO_SKIPS=1 turns a skip into a failure and leaves xfail alone (tests/no_skips.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMPLE = """\
import pytest

def test_skips():
    pytest.skip("needs root, runc and strace")

@pytest.mark.skipif(True, reason="chromium is not installed")
def test_skipif():
    pass

@pytest.mark.xfail(strict=True, reason="a known miss")
def test_known_miss():
    assert False

def test_passes():
    pass
"""


def _run(tmp_path: Path, no_skips: str) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {**os.environ, "DETONATE_NO_SKIPS": no_skips, "PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no_skips", "-q", "-rA", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path / "test_sample.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    return done.stdout


def test_skips_fail_when_no_skips_is_set(tmp_path: Path) -> None:
    out = _run(tmp_path, "1")
    # a skip in the test body fails it; a skipif (decided at set-up) errors it: both fail CI
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in out, out
    assert "skips are failures (DETONATE_NO_SKIPS=1): Skipped: needs root, runc and strace" in out
    assert "chromium is not installed" in out


def test_skips_stay_skips_otherwise(tmp_path: Path) -> None:
    assert "1 passed, 2 skipped, 1 xfailed" in _run(tmp_path, "0")
