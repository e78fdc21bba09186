#!/usr/bin/env python3
"""Issue 10's image set: N images sharing one real Debian base, each adding a small layer.

    .venv/bin/python benchmarks/layer_cache.py --out after.json          # this checkout
    PYTHONPATH=/tmp/main/src .venv/bin/python benchmarks/layer_cache.py --out before.json
    .venv/bin/python benchmarks/layer_cache.py --compare before.json after.json

For each repetition, with a fresh cache dir: a cold pass scans every image once in order (the
first pays for the base), then a warm pass scans them all again; every scan is
`scan(ref, static_only)`, as `detonate image oci:… --static-only` runs it. Prints, per pass,
the total and median of acquire + unpack (this issue's item 1), of static (items 2-3), and of
the three together, plus the cache's size after the cold pass. `--compare` prints the ratios
of two result files. The script uses only APIs that main had before layer dirs, so the same
file measures both.

The base is `debootstrap --variant=minbase bookworm` (root; Debian's mirror from this
machine's apt sources), made once and cached (DETONATE_DEBOOTSTRAP_CACHE, else
~/.cache/layers-debootstrap). The images live in one OCI layout (shared blobs) under --work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from detonate.factory import debootstrap
from detonate.factory.directory_layer import directory_layer
from detonate.factory.oci import oci_layout
from detonate.factory.spec import BlobLayer, FileSpec, ImageSpec, LayerSpec
from detonate.model.options import ScanOptions
from detonate.pipeline import scan

STAGES = ("acquire", "unpack", "static")


def base_layer() -> BlobLayer:
    cache = Path(
        os.environ.get(debootstrap.CACHE_ENV) or Path.home() / ".cache" / "layers-debootstrap"
    )
    cache.mkdir(parents=True, exist_ok=True)
    with debootstrap._locked(cache):
        key, root = debootstrap._base_tree("bookworm", cache)
        return debootstrap._cached_layer(
            cache / f"base-bookworm-{key}",
            lambda: directory_layer(root, debootstrap._kept, "debootstrap --variant=minbase"),
        )


def top_layer(number: int) -> LayerSpec:
    script = f"#!/bin/sh\necho 'service {number} starting'\nexec sleep 1\n".encode()
    files = (
        FileSpec(f"/opt/app{number}/run.sh", script, mode=0o755),
        FileSpec(f"/etc/app{number}.conf", f"port = {8000 + number}\n".encode()),
        FileSpec(f"/opt/app{number}/data.bin", bytes(range(256)) * 256),  # 64 KiB
    )
    return LayerSpec(files, created_by=f"COPY app{number} /opt/app{number}")


def write_images(layout: Path, count: int) -> list[str]:
    """One OCI layout holding `count` images (tags img0…), the base blob stored once."""
    if (layout / "index.json").exists():
        tags = json.loads((layout / "index.json").read_text())["manifests"]
        if len(tags) == count:
            return [f"oci:{layout}:img{n}" for n in range(count)]
        shutil.rmtree(layout)
    base = base_layer()
    manifests = []
    for number in range(count):
        spec = ImageSpec(
            "bench", (base, top_layer(number)), tag=f"img{number}", entrypoint=("/bin/true",)
        )
        built = oci_layout(spec)
        for relative, data in built.files.items():
            if relative.startswith("blobs/"):
                path = layout / relative
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
        manifests += json.loads(built.files["index.json"])["manifests"]
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "manifests": manifests}
    (layout / "index.json").write_text(json.dumps(index))
    return [f"oci:{layout}:img{n}" for n in range(count)]


def disk_bytes(top: Path) -> int:
    total, stack = 0, [str(top)]
    while stack:
        try:
            with os.scandir(stack.pop()) as listing:
                for item in listing:
                    total += item.stat(follow_symlinks=False).st_blocks * 512
                    if item.is_dir(follow_symlinks=False):
                        stack.append(item.path)
        except OSError:
            continue
    return total


def scan_once(ref: str, cache: Path) -> dict[str, float]:
    report = scan(ref, ScanOptions(cache_dir=cache, static_only=True))
    if report.error:
        raise SystemExit(f"{ref}: {report.error.stage}: {report.error.message}")
    stages = {t.stage: t.seconds for t in report.timings}
    return {name: stages.get(name, 0.0) for name in STAGES}


def summary(scans: list[dict[str, float]]) -> dict[str, float]:
    parts = {
        "acquire+unpack": [s["acquire"] + s["unpack"] for s in scans],
        "static": [s["static"] for s in scans],
        "acquire+unpack+static": [sum(s.values()) for s in scans],
    }
    out: dict[str, float] = {}
    for name, values in parts.items():
        out[f"{name} total"] = round(sum(values), 2)
        out[f"{name} median"] = round(statistics.median(values), 3)
    return out


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work)
    refs = write_images(work / "images", args.images)
    results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": [], "cache_bytes": []}
    for repetition in range(args.repeat):
        cache = work / f"cache-{os.getpid()}-{repetition}"
        shutil.rmtree(cache, ignore_errors=True)
        started = time.monotonic()
        cold = [scan_once(ref, cache) for ref in refs]
        cache_bytes = disk_bytes(cache)
        warm = [scan_once(ref, cache) for ref in refs]
        print(
            f"repetition {repetition + 1}: {time.monotonic() - started:.0f} s, "
            f"cache {cache_bytes / 2**20:.0f} MiB",
            flush=True,
        )
        results["cold"].append(summary(cold))
        results["warm"].append(summary(warm))
        results["cache_bytes"].append({"bytes": cache_bytes})
        shutil.rmtree(cache, ignore_errors=True)
    medians = {
        phase: {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
        for phase, runs in results.items()
    }
    medians["set"] = {"images": args.images, "repetitions": args.repeat}
    print(json.dumps(medians, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(medians, indent=1))


def compare(before_path: str, after_path: str) -> None:
    before = json.loads(Path(before_path).read_text())
    after = json.loads(Path(after_path).read_text())
    print(f"{'pass':<5} {'measure':<32} {'before':>10} {'after':>10} {'after/before':>13}")
    for phase in ("cold", "warm", "cache_bytes"):
        for key, old in before[phase].items():
            new = after[phase][key]
            ratio = f"{new / old:.3f}x" if old else "-"
            print(f"{phase:<5} {key:<32} {old:>10} {new:>10} {ratio:>13}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", default="/tmp/layer-cache-bench")
    parser.add_argument("--out", help="write the medians here (JSON)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    if os.geteuid() != 0:
        sys.exit("needs root (debootstrap for the base; the rootfs is owned by mapped ids)")
    measure(args)


if __name__ == "__main__":
    main()
