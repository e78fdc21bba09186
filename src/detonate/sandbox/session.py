"""One dynamic run as the pipeline wants it: the sandbox joined to a fresh simulated internet,
in a work dir that is kept (`artifacts_dir`) or removed once the caller is done with it.

`warm_simulator()` (the pipeline calls it when a scan begins) starts that simulated internet
ahead, so the run takes it already started (`netsim/pool.py`); `watch_analyser()`, called just
before, makes sure a watchdog removes it, and the layers being unpacked, if the analyser is
killed before its run."""

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
from detonate.sandbox.run import detonate
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
    cleanup_orphans()  # simulators a SIGKILLed analyser left behind (never a live run's)
    remove_orphaned_homes()
    # the sample's whole internet, its own (nothing leaves it): started ahead, or now
    simulator = _POOL.take(work_dir) or Simulator(work_dir)
    try:
        return detonate(
            image, rootfs, options, work_dir, progress, network=simulator, cancel=cancel
        )
    finally:
        simulator.close()
