"""Scan leases on a real redis-server: who runs a scan, what a redelivered message may take over,
and the keeper that sends again the scans of workers that died unseen (the end-to-end case, a
whole worker SIGKILLed, is in test_faults.py)."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from detonate.sandbox.leftovers import process_start_time
from detonate.store import ScanStatus, Source, Store
from detonate.worker.scan_leases import Holder, LeaseKeeper, ScanLeases
from detonate.worker.status import FleetStatus, render
from detonate.worker.task import take

SHORT = 0.8  # seconds of lease: renewed every 0.2 s


@pytest.fixture
def leases(redis_server) -> ScanLeases:
    return ScanLeases(redis_server.client(), seconds=SHORT)


@pytest.fixture
def running(tmp_path: Path) -> tuple[Store, str]:
    """A scan the store calls running (its first attempt)."""
    store = Store.open(f"sqlite:///{tmp_path / 'detonate.db'}")
    record, _ = store.request_scan(
        "oci-archive:/samples/x.tar", digest="sha256:" + "a" * 64, platform="linux/amd64",
        source=Source.API,
    )  # fmt: skip
    assert store.mark_running(record.id) is not None
    return store, record.id


def dead_holder(scan_id: str) -> Holder:
    """A holder on this host whose process has exited."""
    child = subprocess.Popen(["sleep", "30"])
    alive = Holder.this_process(scan_id, "detonate.urgent")
    holder = Holder(scan_id, alive.queue, alive.host, child.pid, process_start_time(child.pid), "t")
    child.kill()
    child.wait()
    return holder


def test_a_held_lease_names_this_process_is_renewed_and_is_released(leases) -> None:
    with leases.held("s1", "detonate.backlog") as holder:
        time.sleep(SHORT * 2)  # past the first lease's end: renewed meanwhile
        now = leases.holder("s1")
        assert now == holder and now.queue == "detonate.backlog"
        assert now.alive_here() and not now.dead_here()
    assert leases.holder("s1") is None
    assert leases.take_expired(grace=0) == []  # released, not left to expire


def test_an_unrenewed_lease_runs_out_and_goes_to_exactly_one_taker(leases) -> None:
    holder = Holder.this_process("s2", "detonate.urgent")
    leases.renew(holder)
    assert leases.holder("s2") == holder
    time.sleep(SHORT + 0.1)
    assert leases.holder("s2") is None
    with ThreadPoolExecutor(4) as pool:
        takes = list(pool.map(lambda _: leases.take_expired(grace=0), range(4)))
    assert sorted(len(t) for t in takes) == [0, 0, 0, 1]
    assert [t for t in takes if t] == [[holder]]


def test_a_renewal_never_takes_back_a_lease_another_holder_took_over(leases) -> None:
    first = Holder.this_process("s3", "detonate.urgent")
    second = Holder.this_process("s3", "detonate.urgent")  # another token
    leases.renew(first, ends=0)  # ran out
    leases.acquire(second)  # a new run takes the scan over
    assert not leases.renew(first)  # the old one, back from a pause, does not
    assert leases.holder("s3") == second


def test_a_holder_is_dead_here_once_its_process_is_gone_a_zombie_or_its_pid_reused() -> None:
    gone = dead_holder("s4")
    assert gone.dead_here() and not gone.alive_here()
    child = subprocess.Popen(["true"])  # exits, and stays a zombie until waited for
    zombie = Holder(
        "s4", "detonate.urgent", gone.host, child.pid, process_start_time(child.pid), "t"
    )
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().split(")")[-1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert zombie.dead_here()  # the whole worker's pool processes, before anyone reaps them
    child.wait()
    me = Holder.this_process("s4", "detonate.urgent")
    reused = Holder(me.scan_id, me.queue, me.host, me.pid, me.started + 1, me.token)
    assert reused.dead_here()
    elsewhere = Holder(me.scan_id, me.queue, "another-node", gone.pid, gone.started, "t")
    assert not elsewhere.dead_here() and not elsewhere.alive_here()  # unknown: not dead


def test_a_redelivered_scan_whose_holder_lives_is_not_taken_over(leases, running) -> None:
    store, scan_id = running
    with leases.held(scan_id, "detonate.urgent"):
        assert take(store, scan_id, True, leases).startswith("running in another worker")
    assert store.get_scan(scan_id).status is ScanStatus.RUNNING
    # a holder on another node whose lease is still renewed: its own keeper decides
    other = Holder(scan_id, "detonate.urgent", "another-node", 1, 1, "t")
    leases.acquire(other)
    assert take(store, scan_id, True, leases).startswith("running in another worker")


def test_a_redelivered_scan_whose_holder_died_here_is_taken_over_at_once(leases, running) -> None:
    store, scan_id = running
    leases.acquire(dead_holder(scan_id))  # its lease has not run out yet
    assert take(store, scan_id, True, leases) == "run"
    assert store.get_scan(scan_id).status is ScanStatus.QUEUED  # for run_scan to claim


def test_a_scan_poisoned_on_its_dead_holders_redelivery_leaves_no_lease_to_resend(
    leases, running
) -> None:
    store, scan_id = running
    assert take(store, scan_id, True, None) == "run"  # its first worker died
    assert store.mark_running(scan_id) is not None  # attempt 2
    leases.acquire(dead_holder(scan_id))  # ... and its second did too
    assert take(store, scan_id, True, leases) == "poisoned"
    assert leases.holder(scan_id) is None
    time.sleep(SHORT + 0.1)
    assert leases.take_expired(grace=0) == []  # no keeper sends the poisoned scan again


def test_the_keeper_resends_a_dead_holders_scan_once_and_spares_a_live_one(leases) -> None:
    resent: list[Holder] = []
    keeper = LeaseKeeper(leases, resent.append)
    dead = dead_holder("s5")
    slow = Holder.this_process("s6", "detonate.backlog")  # alive, renewals late
    leases.renew(dead, ends=0)
    leases.renew(slow, ends=0)
    assert keeper.tick() == []  # it has only just reached Redis: holders may renew yet
    time.sleep(2 * leases.renew_every)
    assert keeper.tick() == [dead] and resent == [dead]
    assert leases.holder("s6") == slow  # renewed on the live holder's behalf
    assert keeper.tick() == [] and resent == [dead]  # once


def test_the_keeper_puts_a_lease_back_when_the_resend_fails(leases) -> None:
    def broker_away(holder: Holder) -> None:
        raise ConnectionError("broker away")

    keeper = LeaseKeeper(leases, broker_away)
    keeper.reachable_since = time.monotonic() - 60
    dead = dead_holder("s7")
    leases.renew(dead, ends=0)
    assert keeper.tick() == []
    assert leases.take_expired(grace=0) == [dead]  # kept for the next tick


def test_fleet_status_shows_who_holds_each_running_scan_and_a_dead_ones(running) -> None:
    store, scan_id = running
    live = Holder.this_process(scan_id, "detonate.urgent")
    for holder, shown in (
        (live, f"on {live.host} pid {live.pid}\n"),
        (dead_holder(scan_id), "gone (the scan is taken over)"),
        (None, "no live lease"),
    ):
        status = FleetStatus({}, {}, [store.get_scan(scan_id)], None, holders={scan_id: holder})
        assert shown in render(status)
