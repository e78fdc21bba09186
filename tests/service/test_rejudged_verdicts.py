"""What the service shows of a stored scan that `detonate rejudge --db` judged again: the API's
scan and verdict carry the rules that judged the current verdict and when it was re-judged,
the history lists every verdict, and Harbor's adapter serves the new report. (The rejudge
itself runs on real scans in tests/store/test_rejudge_store.py; here its write is the same
`Store.replace_judgement`.)"""

from __future__ import annotations

from typing import Any

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.service.harbor import REPORT_MIME
from detonate.store import Source, Store

DIGEST = "sha256:" + "ab" * 32
OLD_RULES, NEW_RULES = "1" * 64, "2" * 64


def _report(verdict: Verdict, score: int, rules: str, *findings: Finding) -> Report:
    image = ImageInfo(f"docker://registry.test/app@{DIGEST}", DIGEST, "linux/amd64")
    return Report(image, verdict, score, findings=findings, ruleset_hash=rules)


def test_a_rejudged_verdict_is_what_the_api_and_harbor_show(make_client: Any, store: Store) -> None:
    token = store.create_token("tests")
    auth = {"Authorization": f"Bearer {token}"}
    client = make_client()
    scan, _ = store.request_scan(
        f"docker://registry.test/app@{DIGEST}",
        digest=DIGEST,
        platform="linux/amd64",
        source=Source.API,
    )
    store.mark_running(scan.id)
    store.record_report(scan.id, _report(Verdict.CLEAN, 0, OLD_RULES))
    before = client.get(f"/api/v1/scans/{scan.id}", headers=auth).json()
    assert (before["verdict"], before["judged_ruleset_hash"], before["rejudged_at"]) == (
        "clean",
        OLD_RULES,
        None,
    )

    finding = Finding(
        "later-rule",
        "Written by a rule added later",
        Category.WEAPONIZATION,
        "T1098",
        Severity.CRITICAL,
        Confidence.HIGH,
        "rule:later-rule",
        evidence=(Evidence("wrote it", path="/var/lib/app/state.txt"),),
    )
    (candidate,) = store.rejudge_candidates(NEW_RULES)
    assert store.replace_judgement(candidate, _report(Verdict.MALICIOUS, 70, NEW_RULES, finding))

    after = client.get(f"/api/v1/scans/{scan.id}", headers=auth).json()
    assert (after["verdict"], after["deciding_rule"], after["judged_ruleset_hash"]) == (
        "malicious",
        "later-rule",
        NEW_RULES,
    )
    assert after["rejudged_at"] and after["finished_at"] == before["finished_at"]
    history = client.get(after["links"]["judgements"], headers=auth).json()["judgements"]
    assert [(j["kind"], j["verdict"], j["ruleset_hash"]) for j in history] == [
        ("scan", "clean", OLD_RULES),
        ("rejudge", "malicious", NEW_RULES),
    ]
    verdict = client.get(f"/api/v1/images/{DIGEST}/verdict", headers=auth).json()
    assert (verdict["verdict"], verdict["ruleset_hash"]) == ("malicious", NEW_RULES)
    assert verdict["rejudged_at"] == after["rejudged_at"]
    harbor = client.get(
        f"/api/v1/scan/{scan.id}/report", headers={**auth, "Accept": REPORT_MIME}
    ).json()
    assert any(
        v["id"] == "detonate:verdict" and v["severity"] == "Critical"
        for v in harbor["vulnerabilities"]
    )

    # A second writer that listed the scan before this rejudge finds it changed: no write.
    assert store.replace_judgement(candidate, _report(Verdict.CLEAN, 0, NEW_RULES)) is None
    assert len(store.judgements(scan.id)) == 2
    assert client.get("/api/v1/scans/unknown/judgements", headers=auth).status_code == 404
