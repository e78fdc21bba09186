"""`python -m detonate.factory build SAMPLE_DIR --out DIR` / `build-all SAMPLES --out DIR`.

Writes DIR/<name>.oci/ (skopeo `oci:DIR/<name>.oci:<tag>`) and DIR/<name>.oci.tar
(`oci-archive:DIR/<name>.oci.tar`). build-all skips samples whose outputs are newer than
every file of the recipe. Recipes with `base: debootstrap` (samples/real) build real Debian
images; the debootstrap base and package layers are cached (see factory/debootstrap.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from detonate.factory.build import build_all, build_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detonate.factory")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("build", help="build one sample directory")
    one.add_argument("sample", type=Path)
    one.add_argument("--out", type=Path, required=True)
    every = commands.add_parser("build-all", help="build every sample under a directory")
    every.add_argument("samples", type=Path)
    every.add_argument("--out", type=Path, required=True)
    every.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="factory: %(message)s")
    try:
        if args.command == "build":
            built = [build_sample(args.sample, args.out)]
        else:
            built = build_all(args.samples, args.out, force=args.force)
    except (OSError, ValueError) as error:
        print(f"factory: {error}", file=sys.stderr)
        return 2
    for sample in built:
        state = "built" if sample.rebuilt else "up to date"
        print(f"{sample.name}: {sample.digest} ({state}) -> {sample.archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
