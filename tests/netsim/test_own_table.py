"""The simulator's namespace has a TCP table of its own (own_table.py): the time keeper reads
its sockets dozens of times a second, and the host's shared table made each read walk 262,144
buckets. Made with real `ip netns add` from a nursery namespace; the host's setting and the
caller's namespace are left as they were."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest
from netsim_support import needs_root

from detonate.errors import SandboxError
from detonate.sandbox.netsim import own_table, topology

pytestmark = [needs_root, pytest.mark.sandbox]


def _in_namespace(name: str, *command: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", name, *command], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(not own_table.SYSCTL.exists(), reason="Linux before 6.1: one shared table")
def test_the_simulator_s_namespace_gets_a_small_table_of_its_own() -> None:
    name = f"{topology.PREFIX}test-{secrets.token_hex(3)}"
    host_setting = own_table.SYSCTL.read_text()
    own = os.readlink("/proc/thread-self/ns/net")
    topology.create_namespace(name)
    try:
        size = _in_namespace(name, "sysctl", "-n", "net.ipv4.tcp_ehash_entries")
        assert int(size) == own_table.BUCKETS
        assert Path(f"/run/netns/{name}").exists()  # named as `ip netns add` names it
        assert _in_namespace(name, "sysctl", "-n", "net.ipv4.ip_forward") == "0"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
    assert own_table.SYSCTL.read_text() == host_setting
    assert os.readlink("/proc/thread-self/ns/net") == own


def test_a_failing_ip_netns_add_is_raised_in_the_caller_s_thread() -> None:
    with pytest.raises(SandboxError, match="network setup failed"):
        own_table.add_namespace("bad/name", topology.run)
