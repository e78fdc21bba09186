"""Sandbox overhead beyond the run: where a scan's sandbox stage goes besides the sample.

    sudo .venv/bin/python benchmarks/sandbox_overhead.py [--rounds 10] [--baseline REV]

Times the pipeline's sandbox stage (`session.sandboxed_run`: leftovers sweep, overlay, the
simulated internet, runc, tracer, the run, teardown, file-system diff) for a busybox sample
that prints one line, and splits it into phases by timing the functions each phase calls.
"overhead" is the stage minus the run's own `duration_seconds` (runc start → exit seen).

With `--baseline REV` the same measurement runs, interleaved round by round, against the
source of git revision REV (exported to a temp dir; each round one process per variant), and
the ratio of the medians is printed: the machine is shared, so only ratios within one run of
this script mean much. Prints medians; asserts nothing. Needs root, runc, strace, tcpdump.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "echo hi"

# (label, module, attribute path): the calls each phase is made of. Nested labels ("  …")
# are part of the one above; names missing from a variant are skipped.
PHASES = (
    ("leftovers sweep", "detonate.sandbox.session", "cleanup_orphans"),
    ("leftovers sweep", "detonate.sandbox.leftovers", "StateDir.sweep"),
    ("overlay mount", "detonate.sandbox.run", "mount_overlay"),
    ("simulator: namespace", "detonate.sandbox.netsim.topology", "create_namespace"),
    ("simulator: firewall", "detonate.sandbox.netsim.topology", "firewall"),
    ("simulator: services ready", "detonate.sandbox.netsim.simulator", "Simulator._wait_ready"),
    ("runc create", "detonate.sandbox.runc", "Runc.create"),
    ("tracer attach", "detonate.sandbox.tracer", "StraceTracer.attach"),
    ("simulator: wire veth", "detonate.sandbox.netsim.topology", "wire"),
    ("simulator: pcap start", "detonate.sandbox.netsim.capture", "Capture.__init__"),
    ("runc start", "detonate.sandbox.runc", "Runc.start"),
    ("stop (kill, tracer end)", "detonate.sandbox.run", "_Run._stop"),
    ("trace parse", "detonate.sandbox.tracer", "StraceTracer.summary"),
    ("file-system diff", "detonate.sandbox.run", "diff_upper"),
    ("simulator: collect", "detonate.sandbox.netsim.simulator", "Simulator.collect"),
    ("teardown: release", "detonate.sandbox.run", "release"),
    ("simulator: close", "detonate.sandbox.netsim.simulator", "Simulator.close"),
)


def _instrument(spent: dict[str, float]) -> None:
    for label, module_name, attribute in PHASES:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None or not hasattr(owner, name):
            continue
        setattr(owner, name, _timed(getattr(owner, name), label, spent))


def _timed(function: Callable[..., Any], label: str, spent: dict[str, float]) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.monotonic() - start

    return timed


def worker(rootfs: Path, runs: int) -> None:
    """One variant, `runs` scans in this process; one JSON line per scan."""
    sys.path.insert(0, str(ROOT / "tests"))
    from detonate.model.filesystem import Rootfs
    from detonate.model.options import SandboxOptions
    from detonate.sandbox import session
    from sandbox.busybox_image import PROGRESS, image_running

    spent: dict[str, float] = defaultdict(float)
    _instrument(spent)
    options = SandboxOptions(timeout_seconds=30, idle_seconds=10)
    image = image_running("/bin/sh", "-c", SCRIPT)
    for _ in range(runs):
        spent.clear()
        started = time.monotonic()
        with session.sandboxed_run(image, Rootfs(rootfs, ()), options, PROGRESS) as result:
            stage = time.monotonic() - started  # as pipeline.scan times its sandbox stage
        reported = dict(getattr(result.run, "phase_seconds", ()))  # what the report says
        sample = {"stage": stage, "run": result.run.duration_seconds, "phases": dict(spent)}
        print(json.dumps({**sample, "reported": reported}), flush=True)


def _measure(src: Path, rootfs: Path, runs: int) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(rootfs), "--runs", str(runs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _export(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def _summary(name: str, samples: list[dict[str, Any]]) -> dict[str, float]:
    stage = statistics.median(s["stage"] for s in samples)
    run = statistics.median(s["run"] for s in samples)
    overhead = statistics.median(s["stage"] - s["run"] for s in samples)
    print(f"{name}: {len(samples)} scans; sandbox stage median {stage:.3f} s, run "
          f"{run:.3f} s, overhead beyond the run {overhead:.3f} s")  # fmt: skip
    labels = dict.fromkeys(label for label, _, _ in PHASES)
    for label in labels:
        values = [s["phases"].get(label, 0.0) for s in samples]
        if any(values):
            print(f"    {label:28s} {statistics.median(values):.3f} s")
    reported = dict.fromkeys(name for s in samples for name in s["reported"])
    if reported:
        medians = [f"{name} {statistics.median(s['reported'][name] for s in samples):.3f} s"
                   for name in reported]  # fmt: skip
        print(f"    as the run reports it: {', '.join(medians)}")
    return {"stage": stage, "run": run, "overhead": overhead}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=2, help="scans per process and round")
    parser.add_argument("--baseline", help="git revision to compare against, interleaved")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.runs)
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from sandbox.busybox_image import build_busybox_rootfs

    with tempfile.TemporaryDirectory(prefix="detonate-overhead-") as base:
        rootfs = build_busybox_rootfs(Path(base) / "rootfs")
        variants = {"current": ROOT / "src"}
        if args.baseline:
            variants = {f"baseline {args.baseline}": _export(args.baseline, Path(base)), **variants}
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, src in variants.items():
                samples[name] += _measure(src, rootfs, args.runs)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        results = {name: _summary(name, found) for name, found in samples.items()}
    if args.baseline:
        before, after = results.values()
        print(f"ratio current/baseline: stage {after['stage'] / before['stage']:.2f}, "
              f"overhead {after['overhead'] / before['overhead']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
