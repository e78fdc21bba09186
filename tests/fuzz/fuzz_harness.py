"""What every fuzz target shares: its contract check, a time bound, and splitting one input.

A target is `fuzz(data: bytes) -> None`. It feeds `data` to one parser and checks only that
parser's contract: a value of the documented type, or the documented error (`detonate.errors.*`,
the simulator's `Closed`, …). Anything else raises out of the target: a crash, for the fuzzer
and for the regression test alike.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS = REPO_ROOT / "tests"
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
# True only under the fuzzer (atheris_main.py): a target may then run its costliest check on a
# sample of inputs, as its docstring says. Seeds and regression inputs always get every check.
SAMPLING = False


class ContractBroken(AssertionError):
    """The parser returned or raised something its contract does not allow."""


class Hang(ContractBroken):
    """One input took longer than the target's time bound."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise ContractBroken(what)


@contextlib.contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise Hang if the block runs longer than `seconds` (main thread only, via SIGALRM)."""

    def expired(signum: int, frame: object) -> None:
        raise Hang(f"one input ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def split(data: bytes, parts: int, separator: bytes = b"\x00\xff\x00") -> list[bytes]:
    """`data` cut at `separator` into exactly `parts` pieces (the last ones empty when short),
    so one byte string can carry several fields and the fuzzer can still mutate each."""
    pieces = data.split(separator, parts - 1)
    return pieces + [b""] * (parts - len(pieces))


def text(data: bytes) -> str:
    """Bytes as the parsers get text from a sample: undecodable bytes kept as surrogates."""
    return data.decode("utf-8", "surrogateescape")


def files_under(directory: Path, pattern: str = "*") -> Iterator[bytes]:
    for path in sorted(directory.glob(pattern)):
        if path.is_file():
            yield path.read_bytes()


def windows(traces: Iterator[bytes], lines: int) -> Iterator[bytes]:
    """Each trace cut into pieces of `lines` lines: short seeds keep the fuzzer fast."""
    for trace in traces:
        rows = trace.splitlines(keepends=True)
        for start in range(0, len(rows), lines):
            yield b"".join(rows[start : start + lines])


def regression_inputs(target: str) -> list[Path]:
    """Inputs that once broke `target` (kept after the fix; the test suite replays them)."""
    directory = REGRESSIONS / target
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
