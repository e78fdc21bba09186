"""Run one fuzz target under atheris (libFuzzer): `atheris_main.py NAME [libFuzzer flags]`.

benchmarks/fuzz.py starts this once per target; run it by hand to pass libFuzzer's own flags,
e.g. `-runs=100000 -max_total_time=600 CORPUS_DIR SEED_DIR`. The target's time bound becomes
`-timeout` unless given. `atheris_main.py NAME --write-seeds DIR` writes its seeds instead (in
this fresh process, so a long-running runner never holds stale copies of the modules).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_harness
from fuzz_targets import TARGETS


def write_seeds(name: str, directory: Path) -> None:
    target = TARGETS[name]
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    for number, seed in enumerate(target.load().seeds()):
        (directory / f"seed-{number:03d}").write_bytes(seed[: target.max_len])


def main() -> None:
    target = TARGETS[sys.argv[1]]
    if sys.argv[2:3] == ["--write-seeds"]:
        write_seeds(target.name, Path(sys.argv[3]))
        return
    with atheris.instrument_imports(
        include=list(target.instrument), exclude=list(target.exclude) or None
    ):
        module = target.load()
    fuzz_harness.SAMPLING = True
    flags = sys.argv[2:]
    if not any(flag.startswith("-timeout=") for flag in flags):
        flags.insert(0, f"-timeout={int(getattr(module, 'TIME_BOUND', 10))}")
    atheris.Setup([sys.argv[0], *flags], module.fuzz)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
