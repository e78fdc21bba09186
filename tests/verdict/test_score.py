from detonate.model.findings import Category, Confidence, Finding, Severity
from detonate.model.report import Verdict
from detonate.verdict.score import MALICIOUS_AT, SUSPICIOUS_AT, judge


def finding(severity: Severity, confidence: Confidence, rule: str = "r") -> Finding:
    return Finding(
        rule_id=rule,
        title="t",
        category=Category.WEAPONIZATION,
        technique="T1000",
        severity=severity,
        confidence=confidence,
        source="static:test",
    )


def test_no_findings_is_clean_with_zero_score():
    assert judge([]) == (0, Verdict.CLEAN)


def test_info_findings_never_move_the_score():
    assert judge([finding(Severity.INFO, Confidence.HIGH)] * 50) == (0, Verdict.CLEAN)


def test_one_high_finding_is_suspicious_not_malicious():
    points, verdict = judge([finding(Severity.HIGH, Confidence.HIGH)])
    assert SUSPICIOUS_AT <= points < MALICIOUS_AT
    assert verdict is Verdict.SUSPICIOUS


def test_one_critical_high_confidence_finding_is_malicious():
    assert judge([finding(Severity.CRITICAL, Confidence.HIGH)])[1] is Verdict.MALICIOUS


def test_low_confidence_discounts_severity():
    confident = judge([finding(Severity.HIGH, Confidence.HIGH)])[0]
    unsure = judge([finding(Severity.HIGH, Confidence.LOW)])[0]
    assert unsure < confident


def test_score_is_capped_at_100():
    assert judge([finding(Severity.CRITICAL, Confidence.HIGH)] * 10) == (100, Verdict.MALICIOUS)
