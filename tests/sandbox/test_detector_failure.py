"""Issue 9, item 1: a detector that raises becomes a recorded detector failure in the report,
never a lost scan. A real sandboxed scan with one broken correlator added: the other detectors'
findings and the verdict stand, every rendering names the failure, and the report carries the
hash of the rules that judged it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

import detonate.detect
from detonate.detect.interface import RunView
from detonate.factory import LayerSpec, write_oci_archive
from detonate.factory.busybox import busybox_layer
from detonate.factory.spec import FileSpec, ImageSpec
from detonate.model.findings import Finding
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Verdict
from detonate.pipeline import scan
from detonate.report import html, json_report, sarif, table
from detonate.rules.loader import ruleset_hash

from .busybox_image import sandbox_available

# Copies itself into a hidden directory and runs the copy: one plain runtime finding.
HIDDEN_RUN = """#!/bin/sh
if [ "$1" != again ]; then
  mkdir -p /tmp/.cache && cp "$0" /tmp/.cache/kworker && exec /tmp/.cache/kworker again
fi
echo ran-from-hidden
"""


class Broken:
    """A correlator with a bug that shows only on real runs."""

    name = "broken-correlator"

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        raise IndexError(f"no process at index {len(run.processes) + 7}")


@pytest.mark.sandbox
def test_a_raising_detector_is_reported_and_the_scan_is_judged_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    monkeypatch.setattr(detonate.detect, "CORRELATORS", (*detonate.detect.CORRELATORS, Broken()))
    spec = ImageSpec(
        name="hidden-run",
        layers=(
            busybox_layer(),
            LayerSpec((FileSpec("/start.sh", content=HIDDEN_RUN.encode(), mode=0o755),)),
        ),
        entrypoint=("/start.sh",),
    )
    archive = tmp_path / "hidden-run.oci.tar"
    write_oci_archive(spec, archive)
    options = ScanOptions(
        cache_dir=tmp_path / "cache", sandbox=SandboxOptions(timeout_seconds=20, idle_seconds=2)
    )
    report = scan(f"oci-archive:{archive}", options)

    assert report.error is None, report.error
    assert report.verdict is not Verdict.ERROR
    (failure,) = report.detector_failures
    assert failure.detector == "broken-correlator"
    assert re.fullmatch(r"IndexError: no process at index \d+", failure.error), failure.error
    runtime = {f.rule_id for f in report.findings if f.source.startswith("runtime")}
    assert "exec-from-hidden-path" in runtime, runtime
    assert report.ruleset_hash == ruleset_hash()

    document = json_report.to_document(report)
    json_report.validate(document)
    assert json_report.from_document(document).detector_failures == report.detector_failures
    log = sarif.render(report)
    sarif.validate(log)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["detector-failure/broken-correlator"]
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert "broken-correlator" in html.render(report)
    out = io.StringIO()
    table.render(report, Console(file=out, width=120, color_system=None))
    assert "detector  failed, its findings are missing: broken-correlator" in out.getvalue()
