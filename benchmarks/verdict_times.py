"""Time to verdict of the scenario corpus and of samples/real, two checkouts side by side
(issue 8: before and after the time keeper's changes).

    sudo .venv/bin/python benchmarks/verdict_times.py --peer /path/to/other/checkout \\
        [--runs 1] [--only scenarios|real] [--name NAME ...]

Every image is built once by this checkout's factory; each scan is a full default scan
(static + sandbox + simulated internet, `ScanOptions()` defaults: timeout 60 s, idle 2 s) run
in a subprocess with the given checkout's own venv (`<checkout>/.venv/bin/python`), the two
checkouts interleaved image by image (which goes first alternates), so machine load falls on
both alike. Prints per image the wall time of the scan, how the run ended and the verdict for
each side, then the medians per group and their ratio. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from detonate.factory.build import build_all
from detonate.factory.debootstrap import debootstrap_unavailable

HERE = Path(__file__).resolve().parent.parent
GROUPS = {"scenarios": HERE / "samples" / "scenarios", "real": HERE / "samples" / "real"}
SCAN = """
import json, sys, time
from pathlib import Path
from detonate.model.options import ScanOptions
from detonate.pipeline import scan
started = time.monotonic()
report = scan("oci-archive:" + sys.argv[1], ScanOptions(cache_dir=Path(sys.argv[2])))
print(json.dumps({"seconds": time.monotonic() - started, "ended": report.run.status,
                  "run": report.run.duration_seconds, "verdict": str(report.verdict.value)}))
"""


def scan_with(checkout: Path, archive: Path, cache: Path) -> dict[str, object]:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", SCAN, str(archive), str(cache)],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        return {"seconds": float("nan"), "ended": "error", "run": 0, "verdict": "error"}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", choices=sorted(GROUPS))
    parser.add_argument("--name", action="append", default=[])
    args = parser.parse_args()
    sides = {"peer": args.peer.resolve(), "this": HERE}
    work = Path(tempfile.mkdtemp(prefix="verdict-times-"))
    medians: dict[str, dict[str, float]] = {}
    for group, folder in GROUPS.items():
        if args.only and group != args.only:
            continue
        if group == "real" and debootstrap_unavailable():
            print(f"{group}: skipped ({debootstrap_unavailable()})")
            continue
        built = build_all(folder, work / group)
        times: dict[str, list[float]] = {side: [] for side in sides}
        print(f"\n{group}\n| image | peer s | peer end | this s | this end | verdicts |")
        print("|---|---|---|---|---|---|")
        for index, image in enumerate(sorted(built, key=lambda b: b.name)):
            if args.name and image.name not in args.name:
                continue
            order = list(sides) if index % 2 == 0 else list(reversed(sides))
            runs: dict[str, list[dict[str, object]]] = {side: [] for side in sides}
            for _ in range(args.runs):
                for side in order:
                    cache = work / "cache" / side
                    runs[side].append(scan_with(sides[side], image.archive, cache))
            cells = []
            for side in sides:
                seconds = statistics.median(float(str(r["seconds"])) for r in runs[side])
                times[side].append(seconds)
                ends = "/".join(sorted({str(r["ended"]) for r in runs[side]}))
                cells += [f"{seconds:.1f}", ends]
            verdicts = " → ".join(str(runs[side][0]["verdict"]) for side in sides)
            print(f"| {image.name} | {' | '.join(cells)} | {verdicts} |", flush=True)
        medians[group] = {side: statistics.median(t) for side, t in times.items() if t}
    print("\n| group | peer median s | this median s | this / peer |\n|---|---|---|---|")
    for group, m in medians.items():
        if len(m) == 2:
            print(f"| {group} | {m['peer']:.1f} | {m['this']:.1f} | {m['this'] / m['peer']:.2f} |")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"\n({time.monotonic() - started:.0f} s)", file=sys.stderr)
