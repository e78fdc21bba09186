"""Detection time (`run_detectors`, the scan's detect stage) of two checkouts on the same
recorded runs: every run record under tests/detect/correlations/runs/ of this checkout
(scenarios and wild runs; loading them needs detonate.run_record in the peer too) plus a
synthetic 100k-event flood, each judged by a child process of each checkout
(its own src/ first on the path, after one warm-up pass that parses the rule files), the two
sides interleaved round by round so machine load falls on both alike.

    .venv/bin/python benchmarks/detect_cost.py --peer /path/to/other/checkout [--rounds 5]

Prints per run the median milliseconds of each side and their ratio (this / peer), then the
median ratio over the recorded runs and the ratio of the summed medians. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, statistics, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1] + "/tests")
sys.path.insert(0, sys.argv[1] + "/src")
sys.path.insert(0, sys.argv[2] + "/tests")  # this checkout's fixtures and flood builder
import detonate.detect as detect
from detect.correlations.recorded_runs import load_run, recorded_names
from detect.correlations.test_performance import flood_run
from detonate.detect.interface import RunView
names = recorded_names()
views = {n: load_run(n) for n in names}
views["flood-100k"] = flood_run()
def fresh_view(view):
    return RunView(events=view.events, processes=view.processes, files=view.files,
                   honeytokens=view.honeytokens, run=view.run)
for name, view in views.items():  # warm-up: rule files parsed, caches filled, as in a service
    if name != "flood-100k":
        detect.run_detectors(fresh_view(view))
out = {}
for name, view in views.items():
    fresh = RunView(events=view.events, processes=view.processes, files=view.files,
                    honeytokens=view.honeytokens, run=view.run)
    started = time.perf_counter()
    detect.run_detectors(fresh)
    out[name] = time.perf_counter() - started
print(json.dumps(out))
"""


def once(checkout: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(checkout), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(checkout / "src"), "PATH": "/usr/bin:/bin"},
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sides = {"this": ROOT, "peer": args.peer.resolve()}
    times: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for round_ in range(args.rounds):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for side in order:
            for name, seconds in once(sides[side]).items():
                times[side].setdefault(name, []).append(seconds)
    ratios, totals = [], {side: 0.0 for side in sides}
    for name in sorted(times["this"]):
        this, peer = (statistics.median(times[s][name]) for s in ("this", "peer"))
        totals["this"] += this
        totals["peer"] += peer
        if name != "flood-100k":
            ratios.append(this / peer)
        print(
            f"{name:<34} this {this * 1000:8.2f} ms  peer {peer * 1000:8.2f} ms  "
            f"ratio {this / peer:5.2f}"
        )
    print(
        f"median ratio over {len(ratios)} recorded runs: {statistics.median(ratios):.2f}; "
        f"summed medians: this {totals['this']:.3f} s, peer {totals['peer']:.3f} s "
        f"(ratio {totals['this'] / totals['peer']:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
