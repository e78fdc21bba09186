"""detect(): one list of static and runtime findings, runtime_only marked, duplicates merged;
a detector that raises is a recorded failure, not a lost scan."""

from __future__ import annotations

from dataclasses import replace

import pytest

import detonate.detect
from detect.event_builder import events_from_data
from detonate.detect import RunView, deduplicate, detect, mark_runtime_only, runtime_findings
from detonate.detect.rule_engine import SOURCE as RULES_SOURCE
from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity


def finding(rule_id: str, technique: str, source: str = RULES_SOURCE, *ids: int) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=rule_id,
        category=Category.WEAPONIZATION,
        technique=technique,
        severity=Severity.MEDIUM,
        confidence=Confidence.MEDIUM,
        source=source,
        evidence=(Evidence(description=rule_id, event_ids=ids),) if ids else (),
    )


RUN = RunView(
    events=events_from_data(
        [
            {"kind": "process.exec", "path": "/usr/sbin/ufw", "argv": ["ufw", "disable"]},
            {"kind": "process.exec", "path": "/tmp/.x/kdevtmpfsi", "argv": ["kdevtmpfsi"]},
        ]
    )
)


def test_static_findings_come_first_unchanged_then_the_runtime_ones() -> None:
    static = finding("config-root-user", "T1078", "static:config")
    detection = detect(RUN, [static])
    found = detection.findings
    assert detection.failures == ()
    assert found[0] is static
    assert {"exec-firewall-disable", "exec-from-hidden-path"} <= {f.rule_id for f in found[1:]}
    assert all(f.source.startswith("runtime:") for f in found[1:])


def test_runtime_only_unless_static_saw_the_technique_or_its_parent() -> None:
    static = [finding("config-security-tampering", "T1562.001", "static:config")]
    marked = mark_runtime_only(
        [
            finding("exec-selinux-disable", "T1562.001"),
            finding("exec-firewall-disable", "T1562.004"),
            finding("exec-kernel-thread-name", "T1036.005"),
        ],
        [*static, finding("file-miner-name", "T1036", "static:files")],
    )
    assert [f.runtime_only for f in marked] == [False, True, False]


def test_findings_of_one_rule_are_merged_keeping_the_strongest_rating() -> None:
    weak = finding("mining-pool-connection", "T1071", "runtime:mining", 1)
    strong = replace(finding("mining-pool-connection", "T1071", "runtime:mining", 2),
                     severity=Severity.HIGH)  # fmt: skip
    (merged,) = deduplicate([weak, strong])
    assert merged.severity is Severity.HIGH
    assert [e.event_ids for e in merged.evidence] == [(1,), (2,)]


def test_a_rule_finding_explained_by_a_correlation_of_the_same_technique_is_dropped() -> None:
    correlation = finding("network-service-scan", "T1046", "runtime:network-scan", 1, 2, 3)
    covered = finding("connect-cluster-service-port", "T1046", RULES_SOURCE, 1, 2)
    beyond = finding("docker-api-remote-probe", "T1046", RULES_SOURCE, 3, 9)
    other_technique = finding("exec-from-volatile-dir", "T1564", RULES_SOURCE, 1)
    kept = [f.rule_id for f in deduplicate([correlation, covered, beyond, other_technique])]
    assert kept == ["docker-api-remote-probe", "exec-from-volatile-dir", "network-service-scan"]


class Broken:
    """A detector with a bug: it raises on every run."""

    name = "broken-detector"

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        raise ValueError("pid 4242 not in the process table\nsecond line")


def test_a_detector_that_raises_is_named_and_the_others_findings_stand(monkeypatch) -> None:
    monkeypatch.setattr(detonate.detect, "CORRELATORS", (Broken(), *detonate.detect.CORRELATORS))
    detection = detect(RUN)
    assert [f.detector for f in detection.failures] == ["broken-detector"]
    one_line = "ValueError: pid 4242 not in the process table second line"
    assert detection.failures[0].error == one_line
    assert {"exec-firewall-disable", "exec-from-hidden-path"} <= {
        f.rule_id for f in detection.findings
    }


def test_runtime_findings_is_loud_about_a_failed_detector(monkeypatch) -> None:
    monkeypatch.setattr(detonate.detect, "CORRELATORS", (Broken(),))
    with pytest.raises(RuntimeError, match="broken-detector: ValueError"):
        runtime_findings(RUN)
