"""Sandbox overhead beyond the run: where a scan's sandbox stage goes besides the sample.

    sudo .venv/bin/python benchmarks/sandbox_overhead.py [--rounds 10] [--runs 2]
        [--baseline REV] [--fresh-cache] [--no-pool] [--keep-ahead]

Scans a factory image (busybox and a script that prints one line) with `pipeline.scan`, as
the CLI does, and takes the report's sandbox stage (leftovers sweep, overlay, the simulated
internet, runc, tracer, the run, teardown, file-system diff) and the run's own
`duration_seconds` (runc start → exit seen); "overhead" is the one minus the other. The stage
is split into phases by timing the functions each phase calls. Each process scans `--runs`
times with one cache (the first scan pulls and unpacks, the others find the image and its
static results cached: the sandbox stage comes a tenth of a second after the scan began), or
with `--fresh-cache` a new cache per scan (every scan as an image's first).

With `--baseline REV` the same measurement runs, interleaved round by round, against the
source of git revision REV (exported to a temp dir; each round one process per variant), and
the ratio of the medians is printed: the machine is shared, so only ratios within one run of
this script mean much. `--keep-ahead` adds the current source as a process that scans again and
again runs it (the service's queue, the honeypot worker: `keep_simulators_ahead()`). Medians are
printed for all scans and, without `--fresh-cache`, for the rescans alone (every scan of a
process but its first). Asserts nothing. Needs root, runc, strace, tcpdump.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
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

# (label, module, attribute path): the calls each phase is made of; a label met twice adds up.
# Modules or names missing from a variant (the tracer moving to a package) are skipped.
PHASES = (
    ("leftovers sweep", "detonate.sandbox.session", "cleanup_orphans"),
    ("leftovers sweep", "detonate.sandbox.leftovers", "StateDir.sweep"),
    ("overlay mount", "detonate.sandbox.run", "mount_overlay"),
    ("simulator: namespace", "detonate.sandbox.netsim.topology", "create_namespace"),
    ("simulator: firewall", "detonate.sandbox.netsim.topology", "firewall"),
    ("simulator: take from the pool", "detonate.sandbox.netsim.pool", "SimulatorPool.take"),
    ("simulator: services ready", "detonate.sandbox.netsim.simulator", "Simulator._wait_ready"),
    ("runc create", "detonate.sandbox.runc", "Runc.create"),
    ("tracer attach", "detonate.sandbox.tracer", "StraceTracer.attach"),
    ("tracer attach", "detonate.sandbox.tracing.strace.tracer", "StraceTracer.attach"),
    ("simulator: wire veth", "detonate.sandbox.netsim.topology", "wire"),
    ("simulator: pcap start", "detonate.sandbox.netsim.capture", "Capture.__init__"),
    ("runc start", "detonate.sandbox.runc", "Runc.start"),
    ("stop (kill, tracer end)", "detonate.sandbox.run", "_Run._stop"),
    ("trace parse", "detonate.sandbox.tracer", "StraceTracer.summary"),
    ("trace parse", "detonate.sandbox.tracing.strace.tracer", "StraceTracer.summary"),
    ("file-system diff", "detonate.sandbox.run", "diff_upper"),
    ("simulator: collect", "detonate.sandbox.netsim.simulator", "Simulator.collect"),
    ("teardown: release", "detonate.sandbox.run", "release"),
    ("simulator: close", "detonate.sandbox.netsim.simulator", "Simulator.close"),
)


def _instrument(spent: dict[str, float]) -> None:
    for label, module_name, attribute in PHASES:
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            continue
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


def worker(archive: Path, runs: int, fresh_cache: bool, keep_ahead: bool = False) -> None:
    """One variant, `runs` scans in this process, one JSON line per scan. One cache (the first
    scan pulls and unpacks, the others find the image and its static results cached), or a
    new one per scan (`fresh_cache`: every scan as the first of an image)."""
    from detonate.model.options import SandboxOptions, ScanOptions
    from detonate.pipeline import scan

    if keep_ahead:
        from detonate.sandbox.session import keep_simulators_ahead

        keep_simulators_ahead()

    spent: dict[str, float] = defaultdict(float)
    _instrument(spent)
    with tempfile.TemporaryDirectory(prefix="detonate-overhead-cache-") as cache:
        sandbox = SandboxOptions(timeout_seconds=30, idle_seconds=10)
        for number in range(runs):
            spent.clear()
            where = Path(cache) / (str(number) if fresh_cache else "shared")
            cpu = _cpu_seconds()
            report = scan(f"oci-archive:{archive}", ScanOptions(cache_dir=where, sandbox=sandbox))
            cpu = _cpu_seconds() - cpu
            if report.error is not None:
                raise SystemExit(f"scan failed: {report.error}")
            stages = {t.stage: t.seconds for t in report.timings}
            reported = dict(getattr(report.run, "phase_seconds", ()))
            before = sum(v for k, v in stages.items() if k in ("acquire", "unpack", "static"))
            sample = {"stage": stages["sandbox"], "run": report.run.duration_seconds}
            sample["before_sandbox"] = before
            sample["scan"] = sum(stages.values())  # what the user waits for
            sample["cpu"] = cpu
            sample["rescan"] = number > 0 and not fresh_cache
            print(json.dumps({**sample, "phases": dict(spent), "reported": reported}), flush=True)


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (runc, ip, the services …): what a
    busy node pays, whatever else runs beside it."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _build_image(where: Path) -> Path:
    from detonate.factory import LayerSpec, write_oci_archive
    from detonate.factory.busybox import busybox_layer
    from detonate.factory.spec import FileSpec, ImageSpec

    script = f"#!/bin/sh\n{SCRIPT}\n".encode()
    spec = ImageSpec(
        name="echo-hi",
        layers=(busybox_layer(), LayerSpec((FileSpec("/start.sh", content=script, mode=0o755),))),
        entrypoint=("/start.sh",),
    )
    archive = where / "echo-hi.oci.tar"
    write_oci_archive(spec, archive)
    return archive


def _measure(
    src: Path, archive: Path, runs: int, fresh: bool, mode: str = ""
) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    flags = ["--fresh-cache"] if fresh else []
    flags += [mode] if mode else []  # --no-pool or --keep-ahead
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(archive), "--runs", str(runs), *flags],
        env=env,
        stdout=subprocess.PIPE,
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
    before = statistics.median(s["before_sandbox"] for s in samples)
    scan = statistics.median(s["scan"] for s in samples)
    cpu = statistics.median(s["cpu"] for s in samples)
    print(f"{name}: whole scan median {scan:.3f} s (CPU {cpu:.3f} s), of it acquire + unpack "
          f"+ static {before:.3f} s")  # fmt: skip
    print(f"{name}: {len(samples)} scans; sandbox stage median {stage:.3f} s, run "
          f"{run:.3f} s, overhead beyond the run {overhead:.3f} s")  # fmt: skip
    rescans = [s for s in samples if s.get("rescan")]
    if rescans:
        print(f"{name}: {len(rescans)} rescans; overhead beyond the run "
              f"{statistics.median(s['stage'] - s['run'] for s in rescans):.3f} s, whole scan "
              f"{statistics.median(s['scan'] for s in rescans):.3f} s")  # fmt: skip
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
    summary = {"stage": stage, "run": run, "overhead": overhead, "scan": scan, "cpu": cpu}
    if rescans:
        summary["rescan overhead"] = statistics.median(s["stage"] - s["run"] for s in rescans)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=2, help="scans per process and round")
    parser.add_argument("--baseline", help="git revision to compare against, interleaved")
    parser.add_argument("--fresh-cache", action="store_true", help="a new cache per scan")
    parser.add_argument(
        "--no-pool", action="store_true", help="also the current source without the simulator "
        "started ahead (a third variant, to tell the pool's part from the rest)"
    )  # fmt: skip
    parser.add_argument(
        "--keep-ahead", action="store_true", help="also the current source keeping simulators "
        "ahead, as a process that scans again and again does (a variant of its own)"
    )  # fmt: skip
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # the image archive
    args = parser.parse_args()
    if args.worker is not None:
        if args.no_pool:
            import detonate.pipeline

            detonate.pipeline.warm_simulator = lambda: None  # type: ignore[attr-defined]
        worker(args.worker, args.runs, args.fresh_cache, args.keep_ahead)
        return
    with tempfile.TemporaryDirectory(prefix="detonate-overhead-") as base:
        archive = _build_image(Path(base))
        variants = {"current": (ROOT / "src", "")}
        if args.no_pool:
            variants = {"current without the pool": (ROOT / "src", "--no-pool"), **variants}
        if args.baseline:
            exported = _export(args.baseline, Path(base))
            variants = {f"baseline {args.baseline}": (exported, ""), **variants}
        if args.keep_ahead:
            variants["current, keeping simulators ahead"] = (ROOT / "src", "--keep-ahead")
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (src, mode) in variants.items():
                samples[name] += _measure(src, archive, args.runs, args.fresh_cache, mode)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        results = {name: _summary(name, found) for name, found in samples.items()}
    if args.baseline:
        before, after = results[f"baseline {args.baseline}"], results["current"]
        print(f"ratio current/baseline: stage {after['stage'] / before['stage']:.2f}, "
              f"overhead {after['overhead'] / before['overhead']:.2f}, "
              f"whole scan {after['scan'] / before['scan']:.2f}, "
              f"scan CPU {after['cpu'] / before['cpu']:.2f}")  # fmt: skip
        for name, result in results.items():
            if "rescan overhead" in result and "rescan overhead" in before:
                print(f"ratio {name}/baseline, rescan overhead: "
                      f"{result['rescan overhead'] / before['rescan overhead']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
