"""One dynamic run as the pipeline wants it: the sandbox joined to a fresh simulated internet,
in a work dir that is kept (`artifacts_dir`) or removed once the caller is done with it.

`warm_simulator()` (the pipeline calls it when a scan begins) starts that simulated internet
ahead, so the run takes it already started (`netsim/pool.py`); `watch_analyser()`, called just
before, makes sure a watchdog removes it, and the layers being unpacked, if the analyser is
killed before its run. A process that runs scan after scan calls `keep_simulators_ahead()`
once, so each run's end starts the next one's."""

from __future__ import annotations

import atexit
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage
from detonate.model.options import SandboxOptions
from detonate.model.runtime import RunResult
from detonate.progress import Progress
from detonate.sandbox.leftovers import DEFAULT_STATE_DIR, work_dir_prefix
from detonate.sandbox.netsim import Simulator, cleanup_orphans
from detonate.sandbox.netsim.pool import SimulatorPool, remove_orphaned_homes
from detonate.sandbox.run import detonate, in_background
from detonate.sandbox.watchdog import ensure_watchdog

_POOL = SimulatorPool()
atexit.register(_POOL.close)


def watch_analyser(cache_dir: Path) -> None:
    """This process's watchdog, from before anything of a scan's run exists: SIGKILLed while
    it acquires or unpacks, its simulator started ahead and the layers it was unpacking into
    `cache_dir` are removed within seconds, as its runs are."""
    ensure_watchdog(DEFAULT_STATE_DIR, cache_dir)


def warm_simulator() -> None:
    """Start the next run's simulated internet now, in the background."""
    _POOL.warm()


def start_simulator_ahead() -> None:
    """For a process that waits for the one scan it will run (a fleet worker's fresh process
    per scan): its run's simulated internet starts now, while the task comes, not when the scan
    begins. `close_simulators()` ends it if the scan never runs one (a static scan)."""
    _POOL.start_ahead()


def close_simulators() -> None:
    """End the simulators started ahead and not taken (before a one-scan process exits:
    Celery's pool processes end without running atexit)."""
    _POOL.close()


def keep_simulators_ahead(count: int = 1) -> None:
    """For a process that runs scan after scan (the service's queue, the honeypot worker):
    after each run, start `count` simulators for the next scans, so a scan that reaches its
    sandbox at once (a cached image) finds one ready. Not for a one-shot process."""
    _POOL.keep_ahead(count)


@contextmanager
def sandboxed_run(
    image: AcquiredImage,
    rootfs: Rootfs,
    options: SandboxOptions,
    progress: Progress,
    artifacts_dir: Path | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[RunResult]:
    """Run the image; the result's artifacts (dropped files, trace, pcap) stay readable inside
    the `with` block, and afterwards only when `artifacts_dir` was given."""
    if artifacts_dir is not None:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        yield _run_in(artifacts_dir, image, rootfs, options, progress, cancel)
        return
    with tempfile.TemporaryDirectory(prefix=work_dir_prefix()) as work_dir:
        yield _run_in(Path(work_dir), image, rootfs, options, progress, cancel)


def _run_in(
    work_dir: Path,
    image: AcquiredImage,
    rootfs: Rootfs,
    options: SandboxOptions,
    progress: Progress,
    cancel: threading.Event | None,
) -> RunResult:
    # Simulators a SIGKILLed analyser left behind (never a live run's), swept beside the run.
    sweeping = in_background(_sweep_simulators, "netsim-sweep")
    simulator: Simulator | None = None
    try:
        # the sample's whole internet, its own (nothing leaves it): started ahead, or now
        simulator = _POOL.take(work_dir) or Simulator(work_dir)
        return detonate(
            image, rootfs, options, work_dir, progress, network=simulator, cancel=cancel
        )
    finally:
        if simulator is not None:
            simulator.close()
        sweeping.exception()  # a failed sweep is tried again by the next run and the watchdog
        _POOL.refill()  # the next scan's, if this process keeps them ahead: after the run


def _sweep_simulators() -> None:
    cleanup_orphans()
    remove_orphaned_homes()
