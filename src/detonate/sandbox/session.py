"""One dynamic run as the pipeline wants it: the sandbox joined to a fresh simulated internet,
in a work dir that is kept (`artifacts_dir`) or removed afterwards."""

from __future__ import annotations

import tempfile
from pathlib import Path

from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage
from detonate.model.options import SandboxOptions
from detonate.model.runtime import RunResult
from detonate.progress import Progress
from detonate.sandbox.netsim import Simulator, cleanup_orphans
from detonate.sandbox.run import detonate


def run_sandboxed(
    image: AcquiredImage,
    rootfs: Rootfs,
    options: SandboxOptions,
    progress: Progress,
    artifacts_dir: Path | None = None,
) -> RunResult:
    if artifacts_dir is not None:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        return _run_in(artifacts_dir, image, rootfs, options, progress)
    with tempfile.TemporaryDirectory(prefix="detonate-run-") as work_dir:
        return _run_in(Path(work_dir), image, rootfs, options, progress)


def _run_in(
    work_dir: Path,
    image: AcquiredImage,
    rootfs: Rootfs,
    options: SandboxOptions,
    progress: Progress,
) -> RunResult:
    cleanup_orphans()  # simulated internets of analysers that died (detonate() sweeps the rest)
    simulator = Simulator(work_dir)  # the sample's whole internet; nothing leaves it
    try:
        return detonate(image, rootfs, options, work_dir, progress, network=simulator)
    finally:
        simulator.close()
