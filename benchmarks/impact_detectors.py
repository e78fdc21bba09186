"""Detection time with and without the impact, evasion and privilege detectors of issue 9
(timestomp, data-impact, cpu-hijack and their YAML rules), over every recorded scenario run
and a synthetic 100k-event flood, in one process: the peer is the same code with those
detectors and rules left out, so machine load falls on both alike.

    .venv/bin/python benchmarks/impact_detectors.py [--rounds 5]

Prints per run the median seconds of `run_detectors` for both sides, then the medians of the
per-run ratios. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import detonate.detect as detect  # noqa: E402
from detect.correlations.recorded_runs import load_run, recorded_names  # noqa: E402
from detect.correlations.test_performance import flood_run  # noqa: E402
from detonate.detect.correlations import CORRELATORS  # noqa: E402
from detonate.detect.correlations.cpu_hijack import CpuHijack  # noqa: E402
from detonate.detect.correlations.data_impact import DataImpact  # noqa: E402
from detonate.detect.correlations.timestomp import Timestomp  # noqa: E402
from detonate.detect.interface import RunView  # noqa: E402
from detonate.detect.rule_engine import RuleEngine  # noqa: E402
from detonate.model.events import (  # noqa: E402
    Event,
    FileDeleted,
    FileOpenedForWrite,
    ProcessExecuted,
)

NEW_DETECTORS = (Timestomp, DataImpact, CpuHijack)
NEW_RULES = frozenset(
    {
        "file-setuid-set",
        "file-audit-config-change",
        "file-firewall-config-change",
        "file-apparmor-change",
        "file-logging-config-change",
        "file-hidden-in-system-dir",
        "file-service-autostart-removed",
        "exec-service-stop",
    }
)


def churn_run(files: int = 20_000) -> RunView:
    """A job that rewrites half of 20k shipped files as NAME.bak and deletes the originals:
    the data-impact correlator's worst case (every delete looks for its replacement)."""
    # The image's files reach detectors as sizes (RunView.image_sizes), as in a live scan.
    sizes = {f"/srv/data/d{n % 100}/f{n}.csv": 100 for n in range(files)}
    events: list[Event] = [
        ProcessExecuted(seq=0, ts=0.0, pid=1, argv=("job",), path="/usr/local/bin/job")
    ]
    for shipped in list(sizes)[: files // 2]:
        for cls, path in ((FileOpenedForWrite, shipped + ".bak"), (FileDeleted, shipped)):
            extra = {"flags": "O_WRONLY|O_CREAT|O_TRUNC"} if cls is FileOpenedForWrite else {}
            events.append(cls(seq=len(events), ts=len(events) / 1e4, pid=1, path=path, **extra))
    return RunView(events=tuple(events), image_sizes=sizes)


def _sides() -> dict[str, tuple[object, ...]]:
    engine = RuleEngine.load()
    before_engine = RuleEngine(tuple(r for r in engine.rules if r.meta.id not in NEW_RULES))
    before = tuple(c for c in CORRELATORS if not isinstance(c, NEW_DETECTORS))
    return {"with": (engine, *CORRELATORS), "without": (before_engine, *before)}


def _time(run: RunView, detectors: tuple[object, ...]) -> float:
    fresh = RunView(
        events=run.events,
        processes=run.processes,
        files=run.files,
        honeytokens=run.honeytokens,
        host_mounts=run.host_mounts,
        config=run.config,
        run=run.run,
        image_files=run.image_files,
        image_sizes=run.image_sizes,
        artifacts_dir=run.artifacts_dir,
    )  # no shared index left over from the other side
    original = detect.detectors
    detect.detectors = lambda rules_dir=None: detectors  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        detect.run_detectors(fresh)
        return time.perf_counter() - started
    finally:
        detect.detectors = original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sides = _sides()
    views = {name: load_run(name) for name in recorded_names()}
    views["churn-20k-files"] = churn_run()
    views["flood-100k"] = flood_run()
    ratios = []
    for name, view in views.items():
        times: dict[str, list[float]] = {side: [] for side in sides}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for side in order:
                times[side].append(_time(view, sides[side]))
        with_, without = (statistics.median(times[s]) for s in ("with", "without"))
        ratios.append(with_ / without)
        print(
            f"{name:<28} {len(view.events):>7} events  with {with_ * 1000:8.2f} ms  "
            f"without {without * 1000:8.2f} ms  ratio {with_ / without:5.2f}",
            flush=True,
        )
    recorded = ratios[:-2]  # the synthetic churn and flood runs come last
    print(
        f"median ratio over {len(recorded)} recorded runs: {statistics.median(recorded):.2f}; "
        f"churn: {ratios[-2]:.2f}; flood: {ratios[-1]:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
