"""Where `detonate serve`'s memory goes over many scans (issue 14, item 5): RSS and, with
tracemalloc, the allocation sites that grew.

    sudo nice -n 10 .venv/bin/python benchmarks/serve_memory.py --scans 400 --every 50
    sudo nice -n 10 .venv/bin/python benchmarks/serve_memory.py --scans 1000 --profile static
    sudo nice -n 10 .venv/bin/python benchmarks/serve_memory.py --scans 600 --no-trace  # RSS only
    … --no-trace --env MALLOC_ARENA_MAX=16   # the service uncapped (glibc: 8 per core)

Pushes `--scans` distinct images to a local registry (benchmarks/soak_serve.py: the service
answers a repeated digest from its store), starts `detonate serve` (HTTPS, SQLite store,
`--concurrency` = `--parallel`) with DETONATE_TRACEMALLOC set (service/memory_trace.py) unless
`--no-trace`, and runs the scans `--parallel` at a time over its API. After `--warmup` scans
and then every `--every` (never during a scan) it reads the service's RSS and asks for a
snapshot (SIGUSR2). Prints RSS per sample (with glibc's main heap and thread arenas, from
/proc/PID/smaps) and its least-squares slope per 100 scans, the
traced Python memory, and the allocation sites (file:line, and whole tracebacks) that grew
most from the first sample to the last. Tracing makes the service slower and bigger: judge
RSS levels from a `--no-trace` run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))

from soak_serve import Served, push_images  # noqa: E402

from conftest import start_registry, stop_registry  # noqa: E402
from detonate.service.malloc_arenas import thread_arenas  # noqa: E402
from detonate.service.memory_trace import ENV  # noqa: E402

MiB = 1 << 20
IGNORED = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    tracemalloc.Filter(False, "<unknown>"),
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def native_heaps(pid: int) -> tuple[float, int, float, float, float]:
    """(main heap MiB, glibc thread arenas, their MiB, other anonymous MiB — Python's own
    arenas, big blocks, stacks —, file-backed MiB) from /proc/PID/smaps."""
    heap = anonymous = files = 0.0
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        words = line.split()
        if "-" in words[0] and len(words) >= 5 and ":" in words[3]:
            name = words[5] if len(words) > 5 else ""
        elif words[0] == "Rss:":
            mib = int(words[1]) / 1024
            heap += mib if name == "[heap]" else 0
            anonymous += mib if not name else 0
            files += mib if name.startswith("/") else 0
    arenas = thread_arenas(pid)
    in_arenas = sum(arenas) / 1024
    return heap, len(arenas), in_arenas, anonymous - in_arenas, files


def snapshot(pid: int, directory: Path, number: int) -> Path:
    """Ask the service for snapshot `number` and wait until it is written."""
    target = directory / f"serve-{pid}-{number:04d}.tracemalloc"
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 300
    while not target.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no snapshot {target}")
        time.sleep(0.2)
    return target


def slope_per_100(points: list[tuple[int, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return 100 * cov / var if var else 0.0


def report_growth(first: Path, last: Path, top: int) -> None:
    before = tracemalloc.Snapshot.load(str(first)).filter_traces(IGNORED)
    after = tracemalloc.Snapshot.load(str(last)).filter_traces(IGNORED)
    total = [sum(s.size for s in snap.statistics("filename")) / MiB for snap in (before, after)]
    print(f"traced Python memory: {total[0]:.1f} → {total[1]:.1f} MiB")
    print(f"\ngrew most, by line ({first.name} → {last.name}):")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
              f"{frame.filename}:{frame.lineno}")  # fmt: skip
    print("\ngrew most, by traceback:")
    for stat in after.compare_to(before, "traceback")[: max(3, top // 3)]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
        for line in stat.traceback.format(limit=8, most_recent_first=True):
            print(f"      {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=400)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--profile", choices=("full", "static"), default="full")
    parser.add_argument("--no-trace", dest="trace", action="store_false")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (snapshots)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for the service"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="serve-memory-"))
    snaps = work / "snapshots"
    registry = start_registry(work / "registry")
    samples: list[tuple[int, float, Path | None]] = []
    errors: list[str] = []
    try:
        started = time.monotonic()
        refs = push_images(work, registry, args.scans)
        print(f"{args.scans} images pushed in {time.monotonic() - started:.0f} s", flush=True)
        env = dict(item.split("=", 1) for item in args.env)
        service = Served(
            work, refs, args.parallel, {**env, **({ENV: str(snaps)} if args.trace else {})}
        )
        started = time.monotonic()
        try:
            stops = [args.warmup, *range(args.warmup + args.every, args.scans, args.every)]
            stops.append(args.scans)
            done = 0
            with ThreadPoolExecutor(args.parallel) as pool:
                for stop in stops:
                    scans = range(done, stop)
                    found = pool.map(lambda i: service.scan(i, args.profile), scans)
                    errors += [error for error in found if error is not None]
                    done = stop
                    shot = snapshot(service.pid, snaps, len(samples)) if args.trace else None
                    samples.append((done, rss_mib(service.pid), shot))
                    heap, arenas, in_arenas, anonymous, files = native_heaps(service.pid)
                    print(f"{done:5d} scans  RSS {samples[-1][1]:6.1f} MiB  main heap "
                          f"{heap:5.1f}  {arenas:2d} thread arenas {in_arenas:5.1f}  other anon "
                          f"{anonymous:5.1f}  files {files:5.1f}  "
                          f"{time.monotonic() - started:5.0f} s  errors {len(errors)}",
                          flush=True)  # fmt: skip
        finally:
            service.close()
        points = [(n, rss) for n, rss, _ in samples]
        half = points[len(points) // 2 :]
        print(f"\nRSS {points[0][1]:.1f} → {points[-1][1]:.1f} MiB after {args.warmup} → "
              f"{args.scans} scans; slope {slope_per_100(points):+.2f} MiB/100 scans "
              f"(second half {slope_per_100(half):+.2f})")  # fmt: skip
        if args.trace and samples[0][2] and samples[-1][2]:
            report_growth(samples[0][2], samples[-1][2], args.top)
        for error in errors[:5]:
            print("error:", error)
        return 1 if errors else 0
    finally:
        stop_registry(registry)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
