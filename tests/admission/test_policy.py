"""The decision table: malicious denies with its finding, suspicious warns (or denies), unknown
follows the policy, exempt namespaces pass."""

from __future__ import annotations

import pytest

from detonate.admission.policy import (
    MAX_WARNING_CHARS,
    AdmissionPolicy,
    ImageJudgement,
    UnknownPolicy,
    decide,
)
from detonate.admission.review import ContainerImage

WEB = ContainerImage("container", "web", "registry.test/shop/web:1")
INIT = ContainerImage("init container", "migrate", "registry.test/shop/migrate:3")
DIGEST = "sha256:" + "a" * 64
MINER = "stratum-login: Stratum mining login (T1496): pool.test:3333"


def judged(verdict: str, image: ContainerImage = WEB, digest: str = DIGEST) -> ImageJudgement:
    return ImageJudgement(image, digest, verdict, MINER if verdict != "clean" else "", "scan-1")


def test_malicious_is_denied_with_the_deciding_finding() -> None:
    decision = decide("shop", [judged("clean", INIT), judged("malicious")], AdmissionPolicy())
    assert not decision.allowed and decision.reason == "malicious"
    assert "container 'web' image registry.test/shop/web:1 is malicious" in decision.message
    assert MINER in decision.message


def test_malicious_init_container_is_denied_too() -> None:
    decision = decide("shop", [judged("clean"), judged("malicious", INIT)], AdmissionPolicy())
    assert not decision.allowed and "init container 'migrate'" in decision.message


def test_suspicious_warns_by_default_and_denies_on_request() -> None:
    warned = decide("shop", [judged("suspicious")], AdmissionPolicy())
    assert warned.allowed and warned.reason == "suspicious"
    assert warned.warnings == (
        f"container 'web' image registry.test/shop/web:1 is suspicious: {MINER}",
    )
    denied = decide("shop", [judged("suspicious")], AdmissionPolicy(deny_suspicious=True))
    assert not denied.allowed and MINER in denied.message


def test_clean_is_allowed_silently() -> None:
    decision = decide("shop", [judged("clean"), judged("clean", INIT)], AdmissionPolicy())
    assert (decision.allowed, decision.reason, decision.warnings, decision.to_scan) == (
        True,
        "clean",
        (),
        (),
    )


@pytest.mark.parametrize("verdict", ["", "error"])
def test_unknown_warns_and_queues_by_default(verdict: str) -> None:
    unknown = judged(verdict)
    decision = decide("shop", [unknown], AdmissionPolicy())
    assert decision.allowed and decision.reason == "unknown"
    assert decision.to_scan == (unknown,)
    assert len(decision.warnings) == 1 and "no verdict" in decision.warnings[0]


def test_unknown_denied_with_queued_retry() -> None:
    unknown = judged("")
    decision = decide("shop", [unknown, judged("clean", INIT)], AdmissionPolicy(UnknownPolicy.DENY))
    assert not decision.allowed
    assert "a scan is queued, retry" in decision.message
    assert decision.to_scan == (unknown,)


def test_unknown_allowed_silently_and_not_queued() -> None:
    decision = decide("shop", [judged("")], AdmissionPolicy(UnknownPolicy.ALLOW))
    assert decision.allowed and decision.warnings == () and decision.to_scan == ()


def test_unresolved_tag_cannot_be_queued() -> None:
    unresolved = judged("", digest="")
    decision = decide("shop", [unresolved], AdmissionPolicy(UnknownPolicy.DENY))
    assert not decision.allowed and decision.to_scan == ()
    assert "tag did not resolve" in decision.message


def test_malicious_wins_over_unknown_under_allow() -> None:
    policy = AdmissionPolicy(UnknownPolicy.ALLOW)
    assert not decide("shop", [judged(""), judged("malicious", INIT)], policy).allowed


def test_exempt_namespace_passes_even_malicious() -> None:
    policy = AdmissionPolicy(exempt_namespaces=frozenset({"kube-system"}))
    decision = decide("kube-system", [judged("malicious")], policy)
    assert decision.allowed and decision.reason == "exempt"
    assert not decide("shop", [judged("malicious")], policy).allowed


def test_warnings_stay_short() -> None:
    long = ImageJudgement(WEB, DIGEST, "suspicious", "x" * 1000)
    (warning,) = decide("shop", [long], AdmissionPolicy()).warnings
    assert len(warning) == MAX_WARNING_CHARS
