#!/usr/bin/env python3
"""Issues 2 and 10's numbers on large real images: a debootstrap Debian userland, and a tree of
large Go binaries (Debian's prometheus, containerd, etcd, hugo, rclone, … and the Go toolchain).

    .venv/bin/python benchmarks/static_scan.py [--rootfs DIR] [--runs 5] [--trees debian,go]
                                               [--skip-unpack] [--workers 3,4]

Prints, as medians over --runs (wall and CPU seconds), for each tree:
  * the whole static stage (`detonate.static.analyze`: config, file rules, YARA, IOCs) with a
    cold result cache (a new cache directory each run), and with a warm one;
  * the same against the `yara` command-line tool (Debian) over the same unpacked tree with the
    same rule files and size cap, with `-p 2` and with its default threads, as ratios;
  * with --workers, the cold stage again with that many worker processes instead of one per
    core (is a wall-time gap the work, or the share of a busy machine's CPU each side gets?);
and for the Debian image only (unless --skip-unpack):
  * unpack + index (our `unpack`) against `tar -xzf` of the same layer blobs, as a ratio;
  * peak memory (max RSS) and wall time of a full static scan (`detonate image --static-only`)
    in a child process.
The page cache is warm for both tools (one untimed run of each first): the comparison is of the
scanning, not of the disk. The trees are made once (debootstrap and `apt-get download` +
`dpkg-deb -x`, from this machine's apt sources) and cached under --work (default .work/bench),
like the packed images.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from detonate.acquire import acquire
from detonate.factory.directory_layer import directory_layer
from detonate.factory.oci import write_oci_archive
from detonate.factory.spec import ImageSpec
from detonate.model.options import AcquireOptions, StaticOptions, UnpackLimits
from detonate.progress import NullProgress
from detonate.rules.loader import load_rules
from detonate.static import analyze
from detonate.unpack import unpack

PACKAGES = "python3,perl,gcc,g++,make,git,curl,openssl,libssl-dev,vim-tiny"
GO_PACKAGES = (
    "prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "golang-1.19-go",
    "containerd", "etcd-server", "hugo", "rclone", "restic", "caddy",
)  # fmt: skip


def apt_mirror() -> str:
    """The first Debian mirror in the apt sources, e.g. `URIs: http://mirror/debian`."""
    for source in sorted(Path("/etc/apt").glob("sources.list*")) + sorted(
        Path("/etc/apt/sources.list.d").glob("*")
    ):
        if source.is_file():
            for match in re.finditer(r"(?:URIs:|deb)\s+(\S+/debian)\s", source.read_text()):
                return match.group(1)
    raise SystemExit("no Debian mirror in the apt sources; pass --rootfs")


def ensure_rootfs(path: Path) -> Path:
    if (path / "usr/bin").is_dir():
        return path
    print(f"debootstrap into {path} (once) …", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            "bookworm",
            str(path),
            apt_mirror(),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return path


def ensure_go_tree(path: Path) -> Path:
    """Debian packages of large Go programs, unpacked side by side (nothing is installed)."""
    if (path / "usr/bin").is_dir():
        return path
    print(f"apt-get download + dpkg-deb -x of {len(GO_PACKAGES)} Go packages (once) …", flush=True)
    debs = path.parent / "go-debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *GO_PACKAGES], cwd=debs, check=True)
    staging = path.with_name(path.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
    staging.rename(path)
    return path


def ensure_go_archive(tree: Path, archive: Path) -> Path:
    if archive.exists():
        return archive
    print("packing the Go tree with the factory (one layer) …", flush=True)
    spec = ImageSpec(
        name="bench/go-binaries",
        tag="bookworm",
        layers=(directory_layer(tree, lambda n: True, "ADD go /"),),
        cmd=("/usr/bin/prometheus",),
    )
    partial = archive.with_name(archive.name + ".partial")
    write_oci_archive(spec, partial)
    partial.rename(archive)
    return archive


def ensure_archive(rootfs: Path, archive: Path) -> Path:
    if archive.exists():
        return archive
    print("packing the rootfs with the factory (two layers: /usr, the rest) …", flush=True)
    layers = (
        directory_layer(rootfs, lambda n: n.startswith("usr/"), "ADD usr/ /usr"),
        directory_layer(rootfs, lambda n: not n.startswith("usr/"), "ADD rest /"),
    )
    spec = ImageSpec(name="bench/debian", tag="bookworm", layers=layers, cmd=("/bin/bash",))
    partial = archive.with_name(archive.name + ".partial")  # a stopped run leaves no half
    write_oci_archive(spec, partial)
    partial.rename(archive)
    return archive


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        times.append(fn())
    return statistics.median(times)


def bench_unpack(image, runs: int, scratch: Path) -> tuple[float, float, int]:
    files = 0

    def ours() -> float:
        nonlocal files
        cache = Path(tempfile.mkdtemp(dir=scratch))
        started = time.perf_counter()
        rootfs = unpack(image, cache, UnpackLimits(), NullProgress())
        elapsed = time.perf_counter() - started
        files = len(rootfs.entries)
        shutil.rmtree(cache)
        return elapsed

    def tar() -> float:
        target = Path(tempfile.mkdtemp(dir=scratch))
        started = time.perf_counter()
        for layer in image.layers:
            subprocess.run(
                ["tar", "-xzf", str(image.blob_path(layer.digest)), "-C", str(target)], check=True
            )
        elapsed = time.perf_counter() - started
        shutil.rmtree(target)
        return elapsed

    return median_seconds(ours, runs), median_seconds(tar, runs), files


def timed(fn) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, this process and the children it waited
    for) of fn(): on a shared machine the CPU time says what the work costs, the wall time
    what a user waits."""
    before, started = os.times(), time.perf_counter()
    fn()
    wall, after = time.perf_counter() - started, os.times()
    cpu = sum(after[i] - before[i] for i in range(4))
    return wall, cpu


def yara_cli(tree: Path, cap: int, threads: list[str]) -> None:
    """`yara` over `tree`, the directory the image was packed from: an unpacked image is one
    directory per layer (`Rootfs.layer_dirs`), and `yara` scans one directory per run."""
    rule_files = [str(r.path) for r in load_rules("static") if r.is_yara]
    # -r recursive, -N no symlinks, size cap as ours (--skip-larger, bytes).
    subprocess.run(
        ["yara", "-r", "-N", f"--skip-larger={cap}", *threads, *rule_files, str(tree)],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def static_options(results: Path | None) -> StaticOptions:
    # The code before issue 10 had no result cache: the benchmark measures it too.
    if results is not None and "results_cache" in StaticOptions.__dataclass_fields__:
        return StaticOptions(results_cache=results)
    return StaticOptions()


def with_workers(count: int, fn):
    """fn() with the content pass on `count` worker processes instead of one per core."""
    from detonate.static import content_pass

    def run() -> None:
        default, content_pass.WORKERS = content_pass.WORKERS, count
        try:
            fn()
        finally:
            content_pass.WORKERS = default

    return run


def bench_static(
    image, rootfs, tree: Path, runs: int, scratch: Path, workers: tuple[int, ...] = ()
) -> dict[str, tuple[float, float]]:
    """Whole static stage, cold and warm result cache, against the yara CLI; the four are run
    in turn, `runs` times, so that a busy spell of the machine hits them alike."""
    cap = StaticOptions().yara_max_file_bytes
    warm_cache = scratch / "warm-results"

    def ours(results: Path | None) -> None:
        fresh = dataclasses.replace(rootfs)  # a new Rootfs: nothing memoised from the last run
        analyze(image, fresh, static_options(results), NullProgress())

    def cold() -> None:
        results = Path(tempfile.mkdtemp(dir=scratch))
        try:
            ours(results)
        finally:
            shutil.rmtree(results)

    first = timed(lambda: ours(warm_cache))  # compiles the rules, fills the warm cache
    yara_cli(tree, cap, [])  # the page cache is warm for both from here on
    contenders = {
        "ours, cold result cache": cold,
        "ours, warm result cache": lambda: ours(warm_cache),
        "yara -p 2": lambda: yara_cli(tree, cap, ["-p", "2"]),
        "yara (default threads)": lambda: yara_cli(tree, cap, []),
    }
    for count in workers:
        contenders[f"ours, cold, {count} workers"] = with_workers(count, cold)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, fn in contenders.items():
            samples[name].append(timed(fn))
    medians = {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in samples.items()
    }
    return {"ours, first run in process": first, **medians}


def print_static(name: str, rootfs, numbers: dict[str, tuple[float, float]]) -> None:
    files = sum(1 for e in rootfs.entries if e.type.value == "file")
    print(f"{name}: {files} files, {rootfs.bytes_unpacked / 2**20:.0f} MiB")
    cold_wall, cold_cpu = numbers["ours, cold result cache"]
    for label, (wall, cpu) in numbers.items():
        if label == "ours, first run in process":
            note = "   (one run, with the rule compile)"
        elif label.startswith("ours, cold, "):
            yara_wall, yara_cpu = numbers["yara (default threads)"]
            note = f"   this/yara default: wall {wall / yara_wall:.2f}x, cpu {cpu / yara_cpu:.2f}x"
        elif label.startswith("ours"):
            note = ""
        else:
            note = f"   cold ours/this: wall {cold_wall / wall:.2f}x, cpu {cold_cpu / cpu:.2f}x"
        print(f"  static stage  {label:<26} wall {wall:6.2f} s  cpu {cpu:6.2f} s{note}")


def bench_full_scan(archive: Path, scratch: Path) -> tuple[float, float]:
    cache = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "detonate",
            "image",
            f"oci-archive:{archive}",
            "--static-only",
            "--format",
            "json",
            "--output",
            os.devnull,
            "--fail-on",
            "never",
            "--no-progress",
            "--cache-dir",
            str(cache),
        ],
        check=True,
    )
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    shutil.rmtree(cache)
    return elapsed, peak_kib / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(".work/bench"))
    parser.add_argument("--rootfs", type=Path, help="an existing rootfs (default: debootstrap)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trees", default="debian,go", help="comma-separated: debian, go")
    parser.add_argument("--skip-unpack", action="store_true", help="static stage numbers only")
    parser.add_argument(
        "--workers", default="", help="also the cold stage with these worker counts (e.g. 3,4)"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=args.work, prefix="scratch-"))
    try:
        cache = scratch / "cache"
        for tree in args.trees.split(","):
            if tree == "debian":
                tree_dir = ensure_rootfs(args.rootfs or args.work / "debian-rootfs")
                archive = ensure_archive(tree_dir, args.work / "debian.oci.tar")
            elif tree == "go":
                tree_dir = ensure_go_tree(args.work / "go-tree")
                archive = ensure_go_archive(tree_dir, args.work / "go.oci.tar")
            else:
                raise SystemExit(f"unknown tree {tree!r}: debian or go")
            image = acquire(f"oci-archive:{archive}", cache, AcquireOptions(), NullProgress())
            size = sum(layer.size for layer in image.layers)
            print(f"{tree} image: {len(image.layers)} layers, {size / 2**20:.0f} MiB compressed")
            if tree == "debian" and not args.skip_unpack:
                ours, tar, files = bench_unpack(image, args.runs, scratch)
                print(
                    f"  unpack+index  ours {ours:.2f} s   tar -xzf {tar:.2f} s   "
                    f"ratio {ours / tar:.2f}x   ({files} entries, median of {args.runs})"
                )
            rootfs = unpack(image, cache, UnpackLimits(), NullProgress())
            workers = tuple(int(n) for n in args.workers.split(",") if n)
            numbers = bench_static(image, rootfs, tree_dir, args.runs, scratch, workers)
            print_static(tree, rootfs, numbers)
            if tree == "debian" and not args.skip_unpack:
                wall, peak_mib = bench_full_scan(archive, scratch)
                print(
                    f"  full static scan (cold caches): {wall:.1f} s, peak RSS {peak_mib:.0f} MiB"
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
