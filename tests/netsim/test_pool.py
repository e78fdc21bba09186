"""Simulators started ahead of their runs (`netsim/pool.py`): each goes to one run only, into
that run's dir, answers the run's own names, and nothing of them outlives the pool, an
aborted run, or a killed analyser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from netsim_support import SampleNetns, needs_root

from detonate.sandbox.netsim import Simulator, cleanup_orphans, topology
from detonate.sandbox.netsim.pool import (
    HOME_PREFIX,
    MAX_AGE_SECONDS,
    MAX_WAITING,
    SimulatorPool,
    remove_orphaned_homes,
)

pytestmark = [needs_root, pytest.mark.sandbox]

LOOKUP = """
import socket, struct, sys
name = sys.argv[1].encode()
query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p for p in name.split(b".")) + b"\\0" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(query, (sys.argv[2], 53))
reply = s.recv(512)
print(socket.inet_ntoa(reply[-4:]))
"""


def _mine() -> set[str]:
    return {
        name
        for name in topology.list_namespaces()
        if (owner := topology.namespace_owner(name)) is not None and owner[0] == os.getpid()
    }


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def test_each_simulator_goes_to_one_run_only(tmp_path: Path) -> None:
    pool = SimulatorPool(home=tmp_path)
    pool.warm()
    pool.warm()
    runs = [tmp_path / f"run{i}" for i in range(3)]
    for run in runs:
        run.mkdir()
    with ThreadPoolExecutor(3) as threads:
        taken = list(threads.map(pool.take, runs))
    try:
        handed = [sim for sim in taken if sim is not None]
        assert len(handed) == 2  # two started ahead, three asked: the third makes its own
        assert len({sim.namespace for sim in handed}) == 2
        assert pool.take(tmp_path) is None  # nothing is ever handed out twice
    finally:
        for sim in handed:
            sim.close()
        pool.close()


def test_a_taken_simulator_lives_in_its_run_dir_and_answers_its_run_names(
    tmp_path: Path, sample_netns: SampleNetns
) -> None:
    pool = SimulatorPool(home=tmp_path / "pool")
    (tmp_path / "pool").mkdir()
    pool.warm()
    run_dir, rootfs = tmp_path / "run", tmp_path / "rootfs"
    run_dir.mkdir()
    (rootfs / "etc/ssl/certs").mkdir(parents=True)
    sim = pool.take(run_dir)
    assert sim is not None
    try:
        sim.prepare(rootfs, "3f2a9c1d7e0b")  # the hostname comes after the services started
        sim.attach(sample_netns.pid)
        assert sim.directory == run_dir / "netsim"
        assert {p.name for p in sim.directory.iterdir()} >= {"events.jsonl", "ca.pem"}
        assert not (sim.directory / "ca.key").exists()
        assert list((tmp_path / "pool").iterdir()) == []  # where it waited is gone
        own = sample_netns.python(LOOKUP, "3f2a9c1d7e0b", sim.sim_ip)
        assert own.stdout.strip() == sim.container_address, own.stderr
        other = sample_netns.python(LOOKUP, "pool.example.test", sim.sim_ip)
        assert other.stdout.strip().startswith(("198.18.", "198.19.")), other.stderr
        names = [e.name for e in sim.collect() if hasattr(e, "name")]
        assert names == ["pool.example.test"]  # its own name is not traffic
    finally:
        sim.close()  # the veth goes with its namespace
        pool.close()


def test_a_run_after_an_aborted_one_gets_a_fresh_namespace(tmp_path: Path) -> None:
    pool = SimulatorPool(home=tmp_path)
    pool.warm()
    (tmp_path / "run-a").mkdir()
    aborted = pool.take(tmp_path / "run-a")
    assert aborted is not None
    aborted.close()  # the run failed before it attached: closed as the session closes it
    assert aborted.namespace not in topology.list_namespaces()
    pool.warm()
    (tmp_path / "run-b").mkdir()
    fresh = pool.take(tmp_path / "run-b")
    try:
        assert fresh is not None and fresh.alive()
        assert fresh.namespace != aborted.namespace
        assert fresh.namespace in topology.list_namespaces()
    finally:
        if fresh is not None:
            fresh.close()
        pool.close()


def test_closing_the_pool_leaves_no_namespace_process_or_dir(tmp_path: Path) -> None:
    before = _mine()
    pool = SimulatorPool(home=tmp_path)
    pool.warm()
    pool.warm()
    pool.warm()  # beyond MAX_WAITING: not started
    waiting = [future.result() for future in pool._waiting]
    assert len(waiting) == 2
    services = [sim._serve.pid for sim in waiting if sim._serve is not None]
    assert len(_mine() - before) == 2
    pool.close()
    assert _mine() == before
    assert not any(_running(pid) for pid in services)
    assert list(tmp_path.iterdir()) == []
    pool.warm()  # a closed pool starts nothing
    assert pool.take(tmp_path) is None and _mine() == before


def test_a_simulator_cannot_follow_its_run_to_another_file_system(tmp_path: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the temp dir")
    before = _mine()
    pool = SimulatorPool(home=tmp_path)
    pool.warm()
    run_dir = other / f"detonate-test-run-{os.getpid()}"
    run_dir.mkdir()
    try:
        assert pool.take(run_dir) is None  # the caller makes its own simulator instead
        assert _mine() == before and list(tmp_path.iterdir()) == []
    finally:
        run_dir.rmdir()
        pool.close()


ANALYSER = """
import sys, time
from pathlib import Path
from detonate.sandbox.netsim.pool import SimulatorPool
pool = SimulatorPool(home=Path(sys.argv[1]))
pool.warm()
sim = pool._waiting[0].result()
print(sim.namespace, sim._serve.pid, flush=True)
time.sleep(600)
"""


def test_a_killed_analysers_waiting_simulator_is_removed_by_the_next_run(tmp_path: Path) -> None:
    analyser = subprocess.Popen(
        [sys.executable, "-c", ANALYSER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert analyser.stdout is not None
        namespace, serve = analyser.stdout.readline().split()
        assert namespace in topology.list_namespaces()
    finally:
        analyser.send_signal(signal.SIGKILL)
        analyser.wait()
    deadline = time.monotonic() + 10  # its services see their stdin close and end
    while _running(int(serve)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(int(serve))
    (home,) = tmp_path.iterdir()
    assert home.name.startswith(f"{HOME_PREFIX}{analyser.pid}-")
    cleanup_orphans()  # what a run does first (any run on this host may have done it already)
    assert namespace not in topology.list_namespaces()
    assert remove_orphaned_homes(tmp_path) == [home]
    assert list(tmp_path.iterdir()) == []


def test_homes_of_live_analysers_are_kept(tmp_path: Path) -> None:
    from detonate.sandbox.netsim.pool import home_prefix

    live = tmp_path / (home_prefix() + "abc")
    live.mkdir()
    (tmp_path / f"{HOME_PREFIX}999999999-1-xyz").mkdir()  # no such process
    (tmp_path / "unrelated").mkdir()
    assert remove_orphaned_homes(tmp_path) == [tmp_path / f"{HOME_PREFIX}999999999-1-xyz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "unrelated"])


def test_events_of_a_pooled_run_are_read_from_its_run_dir(tmp_path: Path) -> None:
    # the services write through a file opened before the move: the rename keeps it theirs
    pool = SimulatorPool(home=tmp_path)
    pool.warm()
    (tmp_path / "run").mkdir()
    sim = pool.take(tmp_path / "run")
    assert isinstance(sim, Simulator)
    try:
        sim.start()
        assert sim.events_path == tmp_path / "run" / "netsim" / "events.jsonl"
        assert sim.collect() == ()
        log = (sim.directory / "serve.log").read_text()
        assert json.loads(log.strip().splitlines()[-1])["refused"] == 0  # its summary is here
    finally:
        sim.close()
        pool.close()


def test_a_forked_child_does_not_take_its_parents_simulators(tmp_path: Path) -> None:
    pool = SimulatorPool(home=tmp_path)
    pool.warm()
    waiting = pool._waiting[0].result()
    child = os.fork()
    if child == 0:  # the child: nothing to take, nothing of the parent's closed
        (tmp_path / "run").mkdir()
        taken = pool.take(tmp_path / "run")
        pool.close()
        os._exit(0 if taken is None else 1)
    _, status = os.waitpid(child, 0)
    try:
        assert os.waitstatus_to_exitcode(status) == 0
        assert waiting.alive() and waiting.namespace in topology.list_namespaces()
    finally:
        pool.close()
    assert waiting.namespace not in topology.list_namespaces()


def test_a_simulator_that_waited_too_long_is_replaced(tmp_path: Path) -> None:
    pool = SimulatorPool(home=tmp_path)
    pool.warm()
    stale = pool._waiting[0].result()
    stale.origin -= MAX_AGE_SECONDS + 1  # started more than an hour ago
    (tmp_path / "run").mkdir()
    assert pool.take(tmp_path / "run") is None  # the run makes a fresh one
    assert stale.namespace not in topology.list_namespaces()
    assert list(tmp_path.iterdir()) == [tmp_path / "run"]
    pool.close()


def test_a_pool_keeping_ahead_holds_at_most_that_many_ready(tmp_path: Path) -> None:
    before = _mine()
    pool = SimulatorPool(home=tmp_path, keep_ahead=1)
    try:
        pool.refill()  # a run is over: the next scan's starts now
        pool.refill()
        assert pool.waiting() == 1
        kept = pool._waiting[0].result()
        pool.warm()  # the next scan begins: the one kept ahead is for it, none more is started
        assert pool.waiting() == 1
        (tmp_path / "run").mkdir()
        taken = pool.take(tmp_path / "run")
        assert taken is kept and pool.waiting() == 0
        taken.close()
        pool.keep_ahead(10)  # never more than MAX_WAITING wait
        pool.refill()
        assert pool.waiting() == MAX_WAITING
        started = [future.result() for future in pool._waiting]
        assert len(_mine() - before) == len(started) == MAX_WAITING
    finally:
        pool.close()
    assert _mine() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_pool_that_does_not_keep_ahead_starts_nothing_after_a_run(tmp_path: Path) -> None:
    before = _mine()
    pool = SimulatorPool(home=tmp_path)
    pool.refill()
    assert pool.waiting() == 0 and _mine() == before
    pool.close()


def test_a_simulator_started_ahead_is_the_next_scans_and_none_follows_its_run(
    tmp_path: Path,
) -> None:
    """A one-scan process started its scan's simulator before the scan (`start_ahead`): the
    scan's `warm` starts no second one, its run takes that one, and nothing starts after."""
    before = _mine()
    pool = SimulatorPool(home=tmp_path)
    try:
        pool.start_ahead()
        assert pool.waiting() == 1
        ahead = pool._waiting[0].result()
        pool.warm()  # the scan begins
        assert pool.waiting() == 1
        (tmp_path / "run").mkdir()
        taken = pool.take(tmp_path / "run")
        assert taken is ahead
        taken.close()
        pool.refill()  # its run is over
        assert pool.waiting() == 0 and _mine() == before
    finally:
        pool.close()


KEEPING_ANALYSER = """
import sys, time
from pathlib import Path
from detonate.sandbox.netsim.pool import SimulatorPool
pool = SimulatorPool(home=Path(sys.argv[1]), keep_ahead=1)
pool.refill()
sim = pool._waiting[0].result()
sim.start()  # ready, as a scan would find it
print(sim.namespace, sim._serve.pid, flush=True)
time.sleep(600)
"""


def test_a_killed_analysers_kept_simulator_is_removed_by_its_watchdog(tmp_path: Path) -> None:
    # No run of this analyser ever started: the pool started the watchdog itself, and nothing
    # else here sweeps (no cleanup_orphans, no remove_orphaned_homes).
    analyser = subprocess.Popen(
        [sys.executable, "-c", KEEPING_ANALYSER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert analyser.stdout is not None
        namespace, serve = analyser.stdout.readline().split()
        assert namespace in topology.list_namespaces()
        (home,) = tmp_path.iterdir()
    finally:
        analyser.send_signal(signal.SIGKILL)
        analyser.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (
        namespace in topology.list_namespaces() or _running(int(serve))
    ):
        time.sleep(0.2)
    assert namespace not in topology.list_namespaces()
    assert not _running(int(serve))
    assert home.parent == tmp_path  # its home is in a dir of the test's, not the temp dir:
    remove_orphaned_homes(tmp_path)  # the watchdog sweeps the temp dir's (see the next test)
    assert list(tmp_path.iterdir()) == []


def test_the_watchdogs_sweep_removes_homes_of_dead_analysers(tmp_path: Path) -> None:
    from detonate.sandbox.watchdog import sweep

    dead = Path(tempfile.gettempdir()) / f"{HOME_PREFIX}999999999-1-{os.getpid()}"
    dead.mkdir()
    try:
        sweep(tmp_path / "state", 999999999)  # what the watchdog does once that analyser is gone
        assert not dead.exists()
    finally:
        shutil.rmtree(dead, ignore_errors=True)
