"""Coverage-guided fuzzing of every parser a sample or an image feeds (atheris / libFuzzer).

    .venv/bin/python benchmarks/fuzz.py --executions 100000            # every target
    .venv/bin/python benchmarks/fuzz.py --executions 1000000 --target unpacker --target honeypot
    .venv/bin/python benchmarks/fuzz.py --target unpacker --replay .fuzz/crashes/unpacker/crash-*

Each target (tests/fuzz/fuzz_targets.py) runs in its own process for N executions, from its
seeds (the project's test data) plus the corpus it grew before (.fuzz/corpus/<target>/, kept
between runs). Prints executions, exec/s and crashes per target. A crashing input is saved
under .fuzz/crashes/<target>/: fix the parser, then move the input to
tests/fuzz/regressions/<target>/, where the normal test suite replays it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = REPO_ROOT / "tests" / "fuzz"
sys.path.insert(0, str(FUZZ_DIR))
from fuzz_targets import TARGETS, Target  # noqa: E402

WORK = REPO_ROOT / ".fuzz"
_DONE = re.compile(r"Done (\d+) runs in")
_UNITS = re.compile(r"stat::number_of_executed_units: (\d+)")
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass
class Outcome:
    target: str
    executions: int
    seconds: float
    crashes: int
    artifacts: list[str]

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


def _scratch_root() -> Path:
    """A tmpfs when there is one: the unpacker target makes and removes a layer store per
    input, and on a loaded VM's disk its rmdirs alone took half of its time (13 → 29 exec/s
    uninstrumented on tmpfs). The unpacker does the same on either (tmpfs keeps trusted.*
    xattrs, device nodes and modes)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm / f"detonate-fuzz-{os.getpid()}"
    return WORK / "tmp"


def _run_once(target: Target, runs: int, seconds: int, log: Path) -> tuple[int, list[str], int]:
    """One libFuzzer process: (executions, crash artifacts, exit code)."""
    corpus, seeds = WORK / "corpus" / target.name, WORK / "seeds" / target.name
    crashes = WORK / "crashes" / target.name
    for directory in (corpus, crashes):
        directory.mkdir(parents=True, exist_ok=True)
    driver = [sys.executable, str(FUZZ_DIR / "atheris_main.py"), target.name]
    subprocess.run([*driver, "--write-seeds", str(seeds)], check=True, cwd=REPO_ROOT)
    command = [
        *driver,
        f"-runs={runs}",
        f"-max_len={target.max_len}",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        "-print_pcs=0",
        *target.flags,
        str(corpus),
        str(seeds),
    ]
    if seconds:
        command.insert(3, f"-max_total_time={seconds}")
    # libFuzzer ends the process without atexit: the targets' scratch dirs go here, removed after
    scratch = _scratch_root() / target.name
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("w") as out:
            code = subprocess.run(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                env={**os.environ, "TMPDIR": str(scratch)},
            ).returncode
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(OSError):
            scratch.parent.rmdir()
    text = log.read_text(errors="replace")
    found = _UNITS.findall(text) or _DONE.findall(text) or _PROGRESS.findall(text) or ["0"]
    return int(found[-1]), _ARTIFACT.findall(text), code


def fuzz(target: Target, executions: int, seconds: int, restarts: int) -> Outcome:
    """Run `target` until `executions` (or `seconds`) are spent; after a crash, go on (up to
    `restarts` times) so one run can find more than one bug."""
    WORK.mkdir(exist_ok=True)
    done, artifacts, crashes = 0, [], 0
    started = time.monotonic()
    for attempt in range(restarts + 1):
        left_seconds = int(seconds - (time.monotonic() - started)) if seconds else 0
        if executions - done <= 0 or (seconds and left_seconds <= 0):
            break
        log = WORK / f"{target.name}.{attempt}.log"
        ran, found, code = _run_once(target, executions - done, left_seconds, log)
        done += ran
        artifacts += found
        if code == 0:
            break
        crashes += 1
        print(f"  {target.name}: crash (exit {code}), see {log} and {found}", file=sys.stderr)
    return Outcome(target.name, done, time.monotonic() - started, crashes, artifacts)


def replay(target: Target, inputs: list[Path]) -> int:
    """Run saved inputs through `target` in this process and show what each raised."""
    module, failed = target.load(), 0
    for path in inputs:
        try:
            module.fuzz(path.read_bytes())
            print(f"{path}: ok")
        except Exception:
            failed += 1
            print(f"{path}:\n{traceback.format_exc()}")
    return 1 if failed else 0


def summary() -> int:
    """Every run in .fuzz/results.jsonl added up per target, as a Markdown table."""
    totals: dict[str, list[float]] = {}
    for line in (WORK / "results.jsonl").read_text().splitlines():
        run = json.loads(line)
        total = totals.setdefault(run["target"], [0, 0, 0.0, 0])
        total[0] += 1
        total[1] += run["executions"]
        total[2] += run["seconds"]
        total[3] += run["crashes"]
    print("| target | runs | executions | seconds | exec/s | crashes |")
    print("|---|---|---|---|---|---|")
    for name in TARGETS:
        if name in totals:
            runs, executions, seconds, crashes = totals[name]
            rate = executions / seconds if seconds else 0
            print(
                f"| {name} | {runs:.0f} | {executions:,.0f} | {seconds:,.0f} | {rate:,.0f} "
                f"| {crashes:.0f} |"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=100_000, help="per target")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="repeatable")
    parser.add_argument("--seconds", type=int, default=0, help="stop each target after this")
    parser.add_argument("--restarts", type=int, default=3, help="go on after this many crashes")
    parser.add_argument("--replay", nargs="+", type=Path, help="run these inputs through --target")
    parser.add_argument("--summary", action="store_true", help="add up .fuzz/results.jsonl")
    args = parser.parse_args(argv)
    if args.summary:
        return summary()
    names = args.target or list(TARGETS)
    if args.replay:
        return replay(TARGETS[names[0]], args.replay)
    print(f"{'target':<20} {'executions':>11} {'seconds':>8} {'exec/s':>8} {'crashes':>7}")
    outcomes = []
    for name in names:
        outcome = fuzz(TARGETS[name], args.executions, args.seconds, args.restarts)
        outcomes.append(outcome)
        print(
            f"{name:<20} {outcome.executions:>11} {outcome.seconds:>8.0f} "
            f"{outcome.per_second:>8.0f} {outcome.crashes:>7}",
            flush=True,
        )
        with (WORK / "results.jsonl").open("a") as results:  # kept if a later target is stopped
            results.write(json.dumps({**asdict(outcome), "at": time.time()}) + "\n")
    return 1 if any(o.crashes for o in outcomes) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
