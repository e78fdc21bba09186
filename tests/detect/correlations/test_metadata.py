from __future__ import annotations

from detonate.detect.correlations import CORRELATORS
from detonate.detect.correlations.metadata import detector_meta
from detonate.rules.loader import load_rules


def test_every_detector_metadata_file_names_an_existing_detector() -> None:
    names = {detector.name for detector in CORRELATORS}
    files = [rule for rule in load_rules("runtime") if rule.detector]
    assert len(files) >= len(names)
    assert {rule.detector for rule in files} == names
    for rule in files:
        assert detector_meta(rule.meta.id, rule.detector) == rule.meta


def test_detector_names_are_unique() -> None:
    names = [detector.name for detector in CORRELATORS]
    assert len(names) == len(set(names))
