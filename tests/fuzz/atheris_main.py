"""Run one fuzz target under atheris (libFuzzer): `atheris_main.py NAME [libFuzzer flags]`.

benchmarks/fuzz.py starts this once per target; run it by hand to pass libFuzzer's own flags,
e.g. `-runs=100000 -max_total_time=600 CORPUS_DIR SEED_DIR`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_targets import TARGETS


def main() -> None:
    target = TARGETS[sys.argv[1]]
    with atheris.instrument_imports(include=list(target.instrument)):
        module = target.load()
    atheris.Setup([sys.argv[0], *sys.argv[2:]], module.fuzz)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
