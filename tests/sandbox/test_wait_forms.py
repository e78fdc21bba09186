"""Every way to wait before a payload (issue 8, items 1–3), scanned end to end: each stand-in
of samples/waits/ waits 900 s and then runs the miner stand-in. A default scan (static + real
runc + strace + simulated internet) must show the payload's first event (the exec of xmrig),
its proof (the stratum login) and the delay finding naming the wait's call.

The forms the time keeper cannot shorten (docs/sandbox.md, "Not compressed") are strict
xfails: they fail loudly the day they are shortened, and then leave NOT_COMPRESSED_YET.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from detonate.factory.build import build_sample, unbuildable
from detonate.model.findings import Finding
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Report
from detonate.pipeline import scan

from .busybox_image import sandbox_available

WAITS = Path(__file__).resolve().parents[2] / "samples" / "waits"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((WAITS / "EXPECTED.yaml").read_text())["forms"]
# Every form ends by itself once its wait is over; one that is not shortened idles out.
WAIT_SANDBOX = SandboxOptions(timeout_seconds=30, idle_seconds=5)
# A countdown of short waits (`rounds` in EXPECTED.yaml: 90,000 calls and more) takes a round
# trip to the time keeper per call: it gets the default run's timeout.
ROUNDS_SANDBOX = SandboxOptions(idle_seconds=5)
WAIT_KINDS = ("time.sleep_skipped", "time.wait_timed_out", "time.wait_pending")

# Form → the call the time keeper does not shorten (docs/sandbox.md, "Not compressed").
NOT_COMPRESSED_YET: dict[str, str] = {}


def _param(form: str) -> Any:
    if form in NOT_COMPRESSED_YET:
        reason = f"issue 8: {NOT_COMPRESSED_YET[form]} waits are not compressed yet"
        return pytest.param(form, marks=pytest.mark.xfail(strict=True, reason=reason))
    return form


def _rounds(form: str) -> bool:
    return bool(EXPECTED[form]["wait"].get("rounds"))


# A countdown of short waits is scanned once, by its own test (which checks the finding too).
DELAY_FORMS = [_param(f) for f, entry in EXPECTED.items() if entry["finding"] and not _rounds(f)]
ROUNDS_FORMS = [_param(f) for f in EXPECTED if _rounds(f)]


@pytest.fixture(scope="session")
def wait_archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every form's image, built once; the Python ones only where debootstrap can run, the
    musl one only where musl-gcc is."""
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    out = tmp_path_factory.mktemp("waits")
    return {
        form: build_sample(WAITS / form, out).archive
        for form in EXPECTED
        if unbuildable(WAITS / form) is None
    }


@pytest.fixture(scope="session")
def wait_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("waits-cache")


def scan_form(form: str, archives: dict[str, Path], cache: Path) -> Report:
    if form not in archives:
        pytest.skip(f"{form}: {unbuildable(WAITS / form)}")
    sandbox = ROUNDS_SANDBOX if EXPECTED[form]["wait"].get("rounds") else WAIT_SANDBOX
    report = scan(f"oci-archive:{archives[form]}", ScanOptions(cache_dir=cache, sandbox=sandbox))
    assert report.error is None, report.error
    return report


def payload_events(report: Report, form: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(first event of the payload: the exec of its program, the proof it did its work)."""
    payload = EXPECTED[form]["payload"]
    execs = [
        e for e in report.events if e["kind"] == "process.exec" and e["path"] == payload["exec"]
    ]
    proofs = [e for e in report.events if e["kind"] == payload["proof"]]
    return (execs[0] if execs else None), (proofs[0] if proofs else {})


def names_the_wait(finding: Finding, report: Report, form: str) -> bool:
    """The finding cites wait events of the form's calls for the seconds asked (one wait, or
    several adding up: Node's event loop wakes for its own housekeeping timers and waits again
    for the rest), or says the call and the seconds in its own words."""
    wait = EXPECTED[form]["wait"]
    calls, seconds = set(wait["calls"]), float(wait["seconds"])
    by_seq = {e["seq"]: e for e in report.events}
    for evidence in finding.evidence:
        cited = [by_seq.get(seq, {}) for seq in evidence.event_ids]
        waited = sum(
            float(event.get("requested_seconds", 0))
            for event in cited
            if str(event.get("kind", "")).startswith("time.")  # any kind of wait event
            and event.get("call") in calls
        )
        # an absolute deadline (CPython's sleep) is asked for a moment after it was set
        if waited >= 0.99 * seconds:
            return True
        text = evidence.description
        said = any(re.search(rf"\b{re.escape(call)}\b", text) for call in calls)
        if said and re.search(rf"\b{seconds:g}\b", text):
            return True
    return False


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("form", DELAY_FORMS)
def test_payload_after_a_900_s_wait_shows_with_a_delay_finding_naming_the_call(
    form: str, wait_archives: dict[str, Path], wait_cache: Path
) -> None:
    report = scan_form(form, wait_archives, wait_cache)
    first, proof = payload_events(report, form)
    assert first is not None, f"{form}: the payload never ran (run {report.run.status})"
    assert first["succeeded"]
    assert proof, f"{form}: the payload ran but no {EXPECTED[form]['payload']['proof']}"
    rule = EXPECTED[form]["finding"]
    delays = [f for f in report.findings if f.rule_id == rule]
    assert delays, f"{form}: no {rule} finding; {[f.rule_id for f in report.findings]}"
    assert any(names_the_wait(f, report, form) for f in delays), (
        f"{form}: {rule} does not name {EXPECTED[form]['wait']['calls']}: "
        f"{[e.description for f in delays for e in f.evidence]}"
    )


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("form", ROUNDS_FORMS)
def test_a_countdown_of_short_waits_is_compressed_and_its_rounds_reported_as_one_delay(
    form: str, wait_archives: dict[str, Path], wait_cache: Path
) -> None:
    """`usleep(10000)` 90,000 times, `poll(NULL, 0, 5)` 180,000 times, Python's
    `time.sleep(0.01)` and Go's `time.Sleep(10 ms)` in a loop: waits the keeper leaves to the
    kernel one by one, held once they are a countdown; `usleep(100000)` and Python's
    `time.sleep(0.1)` 9,000 times: sleeps held one by one, a sub-second tick at real pace after
    5 rounds unless they are a countdown. The payload runs in the default run,
    the 900 s are skipped (in sample time it comes after them) and the rounds of the thread
    are one wait event, not 90,000."""
    report = scan_form(form, wait_archives, wait_cache)
    first, proof = payload_events(report, form)
    assert first is not None, f"{form}: the payload never ran (run {report.run.status})"
    assert proof
    print(f"{form}: payload after {first['ts']:.1f} s ({first['sample_ts']:.0f} s sample time)")
    seconds = EXPECTED[form]["wait"]["seconds"]
    assert report.run.skipped_sleep_seconds >= 0.9 * seconds
    assert first["sample_ts"] >= seconds
    waits = [e for e in report.events if e["kind"] in WAIT_KINDS]
    assert 0 < len(waits) <= 20, f"{form}: {len(waits)} wait events"
    assert sum(e["requested_seconds"] for e in waits) >= 0.95 * seconds
    delays = [f for f in report.findings if f.rule_id == EXPECTED[form]["finding"]]
    assert any(names_the_wait(f, report, form) for f in delays), [f.rule_id for f in delays]


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_wait_for_the_simulated_internets_answer_gets_the_answer(
    wait_archives: dict[str, Path], wait_cache: Path
) -> None:
    """real-reply: GET then poll/recv with 30 s timeouts; it mines only with the reply."""
    report = scan_form("real-reply", wait_archives, wait_cache)
    asked = [e for e in report.events if e["kind"] == "http_requested"]
    assert asked and asked[0]["dst_ip"] == "198.51.100.80"
    first, proof = payload_events(report, "real-reply")
    assert first is not None and proof, "the reply never came: the stand-in gave up"
    timed_out = [e for e in report.events if e["kind"] in WAIT_KINDS[1:]]
    assert not timed_out, f"a wait for the reply ran out: {timed_out}"
