"""Every fuzz target replays its seeds and every input that once broke it (fast, no atheris).

An input under tests/fuzz/regressions/<target>/ is a bug the fuzzer found and we fixed; the
target checks the parser's whole contract, so the test fails if the bug comes back.
"""

from __future__ import annotations

import pytest
from fuzz_harness import REGRESSIONS, regression_inputs, time_bound
from fuzz_targets import TARGETS

# Generous: this bound catches hangs, and the test machine is shared.
SLACK = 4


def bound(module: object) -> float:
    return SLACK * float(getattr(module, "TIME_BOUND", 10.0))


CASES = [
    pytest.param(name, path, id=f"{name}/{path.name}")
    for name in TARGETS
    for path in regression_inputs(name)
]


@pytest.mark.parametrize("name, path", CASES)
def test_regression_input_keeps_the_contract(name, path):
    module = TARGETS[name].load()
    with time_bound(bound(module)):
        module.fuzz(path.read_bytes())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_accepts_its_seeds(name):
    module = TARGETS[name].load()
    seeds = list(module.seeds())
    assert seeds, f"{name} has no seeds"
    for seed in seeds:
        with time_bound(bound(module)):
            module.fuzz(seed)


def test_every_regression_directory_names_a_target():
    if REGRESSIONS.is_dir():
        assert {p.name for p in REGRESSIONS.iterdir() if p.is_dir()} <= set(TARGETS)
