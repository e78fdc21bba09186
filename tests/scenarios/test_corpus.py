"""Every scenario of the corpus (THREATS.md 1–21, B1–B7), scanned end to end in the sandbox
with the simulated internet, gives the verdict, categories and techniques EXPECTED.yaml names."""

from __future__ import annotations

import pytest

from detonate.factory.build import build_all

from .corpus import SCENARIOS, load_expectations, run_scenario

EXPECTATIONS = load_expectations()


@pytest.fixture(scope="session")
def scenario_archives(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenarios")
    return {built.name: built.archive for built in build_all(SCENARIOS, out)}


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus-cache")


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_scenario_is_judged_as_expected(name, scenario_archives, corpus_cache):
    expectation = EXPECTATIONS[name]
    outcome = run_scenario(expectation, scenario_archives[name], corpus_cache)
    assert not outcome.error, outcome.error
    assert outcome.verdict in expectation.acceptable, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; techniques found {outcome.techniques}"
    )
    assert not outcome.missing_categories, f"{name}: missing {outcome.missing_categories}"
    assert not outcome.missing_techniques, f"{name}: missing {outcome.missing_techniques}"
