#!/usr/bin/env python3
"""Issue 2's numbers on a large real image: a debootstrap Debian rootfs packed by the factory.

    .venv/bin/python benchmarks/static_scan.py [--rootfs DIR] [--runs 5]

Prints, as medians over --runs:
  * unpack + index (our `unpack`) against `tar -xzf` of the same layer blobs, as a ratio;
  * the YARA stage (our YaraAnalyzer, yara-x) against the `yara` command-line tool (Debian)
    over the same rootfs with the same rule files, single-threaded and with yara's default
    threads;
  * peak memory (max RSS) and wall time of a full static scan (`detonate image --static-only`)
    in a child process.
The rootfs is made once with debootstrap (root, Debian's mirror from this machine's apt
sources) and cached under --work (default .work/bench), like the packed image.
"""

from __future__ import annotations

import argparse
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
from detonate.static.yara import YaraAnalyzer
from detonate.unpack import unpack

PACKAGES = "python3,perl,gcc,g++,make,git,curl,openssl,libssl-dev,vim-tiny"


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


def ensure_archive(rootfs: Path, archive: Path) -> Path:
    if archive.exists():
        return archive
    print("packing the rootfs with the factory (two layers: /usr, the rest) …", flush=True)
    layers = (
        directory_layer(rootfs, lambda n: n.startswith("usr/"), "ADD usr/ /usr"),
        directory_layer(rootfs, lambda n: not n.startswith("usr/"), "ADD rest /"),
    )
    spec = ImageSpec(name="bench/debian", tag="bookworm", layers=layers, cmd=("/bin/bash",))
    write_oci_archive(spec, archive)
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


def bench_yara(image, rootfs, runs: int) -> dict[str, float]:
    rule_files = [str(r.path) for r in load_rules("static") if r.is_yara]
    analyzer = YaraAnalyzer()
    options = StaticOptions()
    analyzer.analyze(image, rootfs, options, NullProgress())  # compile rules, warm the page cache

    def ours() -> float:
        started = time.perf_counter()
        analyzer.analyze(image, rootfs, options, NullProgress())
        return time.perf_counter() - started

    def yara_cli(threads: list[str]) -> float:
        started = time.perf_counter()
        # -r recursive, -N no symlinks, size cap as ours (--skip-larger, bytes).
        subprocess.run(
            [
                "yara",
                "-r",
                "-N",
                f"--skip-larger={options.yara_max_file_bytes}",
                *threads,
                *rule_files,
                str(rootfs.root),
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started

    return {
        "ours": median_seconds(ours, runs),
        "yara -p 1": median_seconds(lambda: yara_cli(["-p", "1"]), runs),
        "yara (default threads)": median_seconds(lambda: yara_cli([]), runs),
    }


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
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rootfs_dir = ensure_rootfs(args.rootfs or args.work / "debian-rootfs")
    archive = ensure_archive(rootfs_dir, args.work / "debian.oci.tar")
    scratch = Path(tempfile.mkdtemp(dir=args.work, prefix="scratch-"))
    try:
        cache = scratch / "cache"
        image = acquire(f"oci-archive:{archive}", cache, AcquireOptions(), NullProgress())
        size = sum(layer.size for layer in image.layers)
        print(f"image: {len(image.layers)} layers, {size / 2**20:.0f} MiB compressed")

        ours, tar, files = bench_unpack(image, args.runs, scratch)
        print(
            f"unpack+index  ours {ours:.2f} s   tar -xzf {tar:.2f} s   "
            f"ratio {ours / tar:.2f}x   ({files} entries, median of {args.runs})"
        )

        rootfs = unpack(image, cache, UnpackLimits(), NullProgress())
        yara = bench_yara(image, rootfs, args.runs)
        base = yara["ours"]
        for name, seconds in yara.items():
            print(f"yara stage    {name:<24} {seconds:.2f} s   ours/this {base / seconds:.2f}x")

        wall, peak_mib = bench_full_scan(archive, scratch)
        print(f"full static scan (cold cache): {wall:.1f} s wall, peak RSS {peak_mib:.0f} MiB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
