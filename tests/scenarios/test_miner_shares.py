"""The miner stand-in (samples/standins/miner.c) mines against the simulated pool: in a full scan
it logs in, submits shares, the pool counts them in its session event, the report's mining
finding states them, and the stand-in exits 0. One sample per dialect and transport: xmrig over
TCP (t01), xmrig over busybox ssl_client (t02), Bitcoin's mining.* (v01a)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .corpus import SCENARIOS, VARIANTS, scan_sample, write_archive

SAMPLES = {
    "t01-hidden-miner": SCENARIOS / "t01-hidden-miner",
    "t02-disguised-miner": SCENARIOS / "t02-disguised-miner",
    "v01a-btc-batch-worker": VARIANTS / "v01a-btc-batch-worker",
}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_miner_standin_submits_shares_the_pool_records(name: str, tmp_path: Path) -> None:
    archive = write_archive(SAMPLES[name], tmp_path)
    report, _ = scan_sample(archive, tmp_path / "cache")
    assert report.error is None, report.error
    events = report.events
    (login,) = [e for e in events if e["kind"] == "stratum_login"]
    sessions = [e for e in events if e["kind"] == "stratum_session_ended"]
    assert sum(e["shares"] for e in sessions) >= 1, sessions
    exits = [e for e in events if e["kind"] == "process.exit" and e["pid"] == login["pid"]]
    assert [e["exit_code"] for e in exits] == [0], exits
    mining = next(f for f in report.findings if f.rule_id == "stratum-mining-login")
    shown = [e.description for e in mining.evidence if e.description.startswith("pool session")]
    assert shown and " 0 share(s)" not in shown[0], shown
