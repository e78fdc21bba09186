"""Fixtures: a sample network namespace, and one wired to a simulator."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest
from netsim_support import SampleNetns, Wired

from detonate.sandbox.netsim import NetsimConfig, Simulator


@pytest.fixture(scope="module")
def sample_netns() -> Iterator[SampleNetns]:
    name = f"detonate-test-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "600"])
    time.sleep(0.1)
    try:
        yield SampleNetns(name, sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="module")
def wired(sample_netns: SampleNetns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wired]:
    run_dir = tmp_path_factory.mktemp("netsim-run")
    rootfs = run_dir / "rootfs"
    (rootfs / "etc/ssl/certs").mkdir(parents=True)
    config = NetsimConfig(
        nxdomain=("*.invalid", "dga-*.test"),
        payloads=(("/custom/*", "text"),),
        stratum_job_seconds=0.3,
        banner_wait_seconds=0.3,
        idle_seconds=5,
    )
    sim = Simulator(run_dir, config)
    try:
        sim.prepare(rootfs)
        sim.attach(sample_netns.pid)
        yield Wired(sim, sample_netns, rootfs)
    finally:
        sim.close()
