"""A pytest plugin: with DETONATE_NO_SKIPS=1 (set by .ci/run) a skipped test fails.

In CI every real part must run, so a test that skips itself (not root, runc or chromium
missing, …) must not pass unseen. Expected failures (xfail) stay as they are."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("DETONATE_NO_SKIPS") != "1" or not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    report.outcome = "failed"
    report.longrepr = f"skipped where skips are failures (DETONATE_NO_SKIPS=1): {reason}"
