"""The corpora's declared detections (EXPECTED.yaml `detections`) are complete and name real
rules and event kinds, and a declared detection fails for the right reasons (no sandbox)."""

from __future__ import annotations

import pytest

from detonate.model.event_codec import EVENT_KINDS
from detonate.rules.loader import KINDS, load_rules

from .corpus import (
    EXPECTED,
    VARIANTS_EXPECTED,
    WILD_EXPECTED,
    Detection,
    Produced,
    load_expectations,
    wrong_detections,
)
from .test_corpus import KNOWN_MISSES, WILD_KNOWN_MISSES

CORPORA = {
    "scenarios": (load_expectations(EXPECTED), {}),
    "variants": (load_expectations(VARIANTS_EXPECTED), KNOWN_MISSES),
    "wild": (load_expectations(WILD_EXPECTED), WILD_KNOWN_MISSES),
}
RULE_KINDS = {rule.meta.id: kind for kind in KINDS for rule in load_rules(kind)}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_every_required_technique_names_the_detection_that_must_produce_it(corpus):
    expectations, known_misses = CORPORA[corpus]
    for name, expectation in expectations.items():
        declared = {d.technique for d in expectation.detections}
        assert declared <= set(expectation.techniques), f"{name}: {declared} not required"
        if name in known_misses:  # may require a technique no rule produces yet
            continue
        undeclared = [t for t in expectation.techniques if t not in declared]
        assert not undeclared, f"{name}: no detection declared for {undeclared}"


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_declared_detections_name_real_rules_and_event_kinds(corpus):
    expectations, _ = CORPORA[corpus]
    for name, expectation in expectations.items():
        for detection in expectation.detections:
            kind = RULE_KINDS.get(detection.rule)
            assert kind, f"{name}: no rule {detection.rule}"
            unknown = set(detection.events) - set(EVENT_KINDS)
            assert not unknown, f"{name}: {detection.rule}: unknown event kinds {unknown}"
            if kind == "static":  # a static finding cites no run events
                assert not detection.events, f"{name}: static {detection.rule} with events"


LOGIN = Detection("T1496", "stratum-mining-login", ("stratum_login",))


def test_a_detection_holds_when_its_rule_names_the_technique_with_the_events():
    found = (Produced("stratum-mining-login", "T1496", ("net.connect", "stratum_login")),)
    assert wrong_detections((LOGIN,), found) == []


def test_a_sub_technique_satisfies_its_declared_parent():
    wanted = Detection("T1036", "comm-system-name-disguise", ("process.rename",))
    found = (Produced("comm-system-name-disguise", "T1036.005", ("process.rename",)),)
    assert wrong_detections((wanted,), found) == []


def test_the_technique_from_another_rule_fails_naming_that_rule():
    found = (Produced("ioc-mining-pool", "T1496", ()),)
    assert wrong_detections((LOGIN,), found) == [
        "T1496: stratum-mining-login did not fire (T1496 came from ioc-mining-pool)"
    ]


def test_the_rule_with_another_technique_fails():
    found = (Produced("stratum-mining-login", "T1071", ("stratum_login",)),)
    assert wrong_detections((LOGIN,), found) == [
        "T1496: stratum-mining-login fired with T1071 only"
    ]


def test_evidence_without_a_declared_event_kind_fails():
    found = (
        Produced("stratum-mining-login", "T1496", ("net.connect",)),
        Produced("stratum-mining-login", "T1496", ("dns_queried",)),
    )
    assert wrong_detections((LOGIN,), found) == [
        "T1496: stratum-mining-login's evidence cites net.connect; dns_queried, not all of "
        "stratum_login"
    ]
