"""A real sandboxed scan of a factory image whose verdict a rule added later changes, and
done scans of it in a store: what the tests of re-judging the store's scans start from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from detonate.factory import LayerSpec, write_oci_archive
from detonate.factory.busybox import busybox_layer
from detonate.factory.spec import FileSpec, ImageSpec
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Report
from detonate.pipeline import scan
from detonate.store import Source, Store, StoredRun
from detonate.store.stored_runs import capture

STATE = "/var/lib/app/state.txt"
CRON = "/etc/cron.d/refresh"
# Keeps its state in a file and installs a cron line (whose text a detector reads from the
# run's copy of the file: a rejudge from the store must see it too). The line fetches data, not
# code (a cron job that fetches code is malicious by itself): the scan stays below malicious, so
# that the rule added later is what makes its verdict malicious.
START = f"""#!/bin/sh
mkdir -p /var/lib/app /etc/cron.d
echo "generation 1" > {STATE}
echo '*/5 * * * * root wget -q -O {STATE}.new http://updates.example.test/state' > {CRON}
echo started
"""
LATER_RULE = f"""title: Application state written (test rule added after the scans)
why: >
  A rule written after the scans were stored: re-judging them must apply it.
severity: critical
confidence: high
category: weaponization
technique: T1098
subject: file_change
match:
  path: {{is: {STATE}}}
"""


@dataclass(frozen=True)
class Scanned:
    archive: Path
    report: Report
    run: StoredRun
    options: ScanOptions


def scan_options(cache: Path) -> ScanOptions:
    return ScanOptions(cache_dir=cache, sandbox=SandboxOptions(timeout_seconds=20, idle_seconds=2))


def scan_state_and_cron(base: Path) -> Scanned:
    """One real scan of the factory image, with the run as the store would keep it."""
    spec = ImageSpec(
        name="state-and-cron",
        layers=(
            busybox_layer(),
            LayerSpec((FileSpec("/start.sh", content=START.encode(), mode=0o755),)),
        ),
        entrypoint=("/start.sh",),
    )
    archive = base / "image.oci.tar"
    write_oci_archive(spec, archive)
    options = scan_options(base / "cache")
    artifacts = base / "artifacts"
    report = scan(f"oci-archive:{archive}", replace(options, artifacts_dir=artifacts))
    assert report.error is None, report.error
    run = capture(artifacts)
    assert run.data is not None, run.reason
    return Scanned(archive, report, run, options)


def stored(store: Store, scanned: Scanned, number: int) -> str:
    """A done scan of its own digest with the real scan's report and run record."""
    digest = f"sha256:{number:064x}"
    record, _ = store.request_scan(
        f"oci-archive:{scanned.archive}", digest=digest, platform="linux/amd64", source=Source.API
    )
    store.mark_running(record.id)
    store.record_report(record.id, scanned.report, scanned.run)
    return record.id
