"""One scan from the store, run: claim it, run `pipeline.scan`, store the report or the failure.

    run_scan(store, scan_id, options, cancel)   # → the finished ScanRecord, or None

The image is scanned by digest (`repo@sha256:…`), never by the tag it was asked for: a tag
that moved after the request cannot change what is scanned.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from detonate.acquire.reference import parse_reference
from detonate.acquire.skopeo import PULL_TASK
from detonate.errors import DetonateError, ScanCancelled
from detonate.honeypot.deployments import as_deployed
from detonate.model.image import Platform
from detonate.model.options import AcquireOptions, ScanOptions
from detonate.model.report import Verdict
from detonate.pipeline import scan
from detonate.sandbox.leftovers import work_dir_prefix
from detonate.store import ScanRecord, ScanStatus, Source, Store, StoredRun
from detonate.store.stored_runs import capture

log = logging.getLogger("detonate.worker")
PROFILES = ("full", "static")  # full: static analysis and the sandbox run; static: no run

Observer = Callable[[ScanRecord, float], None]  # a finished scan and its seconds
# (scan id, the service's acquire options) → the scan's: a per-scan pull credential (Harbor's),
# held in memory by the service, replaces the service's own (service/scan_credentials.py).
AcquireFor = Callable[[str, AcquireOptions], AcquireOptions]


class StoreProgress:
    """Progress that records the stage a scan is in ("acquire", "sandbox", …) in the store."""

    def __init__(self, store: Store, scan_id: str) -> None:
        self.store, self.scan_id, self.stage = store, scan_id, ""

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        stage = task.split(":")[0].strip()  # "static: yara" → "static"
        stage = "acquire" if stage == PULL_TASK else stage
        if stage != self.stage:
            self.stage = stage
            self.store.set_stage(self.scan_id, stage)

    def advance(self, task: str, amount: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


def options_for(record: ScanRecord, base: ScanOptions) -> ScanOptions:
    return replace(
        base,
        static_only=record.profile == "static",
        acquire=replace(base.acquire, platform=Platform.parse(record.platform)),
    )


def target_of(record: ScanRecord) -> str:
    ref = parse_reference(record.reference)
    if ref.transport == "docker" and record.digest:
        return str(ref.pinned(record.digest))
    return str(ref)


@contextmanager
def recording(options: ScanOptions, scan_id: str) -> Iterator[ScanOptions]:
    """The scan's options with an artifacts dir its run is recorded in (for the store, so the
    scan can be re-judged): the service's own `artifacts_dir`/<scan id> when it keeps
    artifacts, else a temporary dir removed afterwards (and by the leftovers sweep, if this
    process dies)."""
    if options.static_only:
        yield options
    elif options.artifacts_dir is not None:
        yield replace(options, artifacts_dir=options.artifacts_dir / scan_id)
    else:
        with tempfile.TemporaryDirectory(prefix=work_dir_prefix()) as work_dir:
            yield replace(options, artifacts_dir=Path(work_dir))


def _no_longer_running(store: Store, scan_id: str) -> ScanRecord | None:
    """The scan, when something else has ended it meanwhile (a fleet cancel marks it failed
    before it stops the run): its result is not written over that."""
    record = store.get_scan(scan_id)
    return record if record is not None and record.status is not ScanStatus.RUNNING else None


def run_scan(
    store: Store,
    scan_id: str,
    base: ScanOptions,
    cancel: threading.Event | None = None,
    observe: Observer | None = None,
    shutting_down: threading.Event | None = None,
    acquire_for: AcquireFor | None = None,
) -> ScanRecord | None:
    """Run one queued scan; None when it was not queued any more (another worker has it).
    A scan cancelled because the service is `shutting_down` goes back to the queue."""
    record = store.mark_running(scan_id)
    if record is None:
        return None
    started = time.monotonic()
    options = options_for(record, base)
    if acquire_for is not None:
        options = replace(options, acquire=acquire_for(scan_id, options.acquire))
    if record.source is Source.HONEYPOT:  # the attacker's entrypoint, command and env
        options = as_deployed(store, record, options)
    run: StoredRun | None = None
    try:
        with recording(options, scan_id) as recorded:
            report = scan(target_of(record), recorded, StoreProgress(store, scan_id), cancel=cancel)
            if recorded.artifacts_dir is not None and report.error is None:
                run = capture(recorded.artifacts_dir)
                if run.data is None:
                    log.warning("scan %s: its run is not kept for rejudge: %s", scan_id, run.reason)
    except DetonateError as error:  # raised before the pipeline's own catch (a bad reference)
        finished = _no_longer_running(store, scan_id) or store.mark_failed(scan_id, error.message)
    except Exception as error:  # the worker outlives any one scan; the store says what broke
        log.exception("scan %s crashed", scan_id)
        finished = _no_longer_running(store, scan_id) or store.mark_failed(
            scan_id, f"internal error: {type(error).__name__}: {error}"
        )
    else:
        if (gone := _no_longer_running(store, scan_id)) is not None:
            return gone
        stopped = report.error is not None and report.error.kind == ScanCancelled.__name__
        if stopped and shutting_down is not None and shutting_down.is_set():
            return store.return_to_queue(scan_id)
        if report.verdict is Verdict.ERROR and report.error is not None:
            # Kept for reading, but failed: a new request for the image retries it.
            store.record_report(scan_id, report)
            finished = store.mark_failed(scan_id, f"{report.error.stage}: {report.error.message}")
        else:
            finished = store.record_report(scan_id, report, run)
    if observe is not None:
        observe(finished, time.monotonic() - started)
    return finished
