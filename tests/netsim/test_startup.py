"""The simulator's start-up, which every run waits for: what the services process imports, the
TLS leaf key made ahead of time, and a simulator closed before its services were ready."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from netsim_support import needs_root

from detonate.sandbox import netsim
from detonate.sandbox.netsim import Simulator, topology
from detonate.sandbox.netsim.authority import CertificateAuthority

ANALYSER_SIDE = (
    "detonate.sandbox.run",
    "detonate.sandbox.leftovers",
    "detonate.sandbox.netsim.simulator",
    "detonate.sandbox.netsim.topology",
    "detonate.unpack",
)


def test_services_process_imports_none_of_the_analyser_side() -> None:
    probe = (
        "import sys, detonate.sandbox.netsim.serve\n"
        f"print(sorted(m for m in {ANALYSER_SIDE!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_package_names_still_resolve() -> None:
    from detonate import sandbox

    assert netsim.Simulator is Simulator
    assert netsim.cleanup_orphans is topology.cleanup_orphans
    assert callable(sandbox.detonate)
    with pytest.raises(AttributeError):
        _ = netsim.NoSuchThing  # type: ignore[attr-defined]


def test_leaf_key_made_ahead_travels_with_the_ca_key(tmp_path: Path) -> None:
    leaf = CertificateAuthority.new_leaf_key()
    authority = CertificateAuthority.generate("run", leaf)
    authority.save(tmp_path / "ca.pem", tmp_path / "ca.key")
    loaded = CertificateAuthority.load(tmp_path / "ca.pem", tmp_path / "ca.key")
    assert loaded.key.private_numbers() == authority.key.private_numbers()
    assert loaded.leaf_key_pem == authority.leaf_key_pem
    # what the services hand out is signed by the CA for that one key
    issued = loaded.issue("pool.example.test")
    assert loaded.leaf_key_pem == authority.leaf_key_pem
    assert b"BEGIN CERTIFICATE" in issued


def test_a_ca_key_file_without_a_leaf_key_still_loads(tmp_path: Path) -> None:
    authority = CertificateAuthority.generate("run")
    authority.save(tmp_path / "ca.pem", tmp_path / "ca.key")
    assert (tmp_path / "ca.key").read_bytes().count(b"BEGIN PRIVATE KEY") == 1
    loaded = CertificateAuthority.load(tmp_path / "ca.pem", tmp_path / "ca.key")
    assert b"BEGIN PRIVATE KEY" in loaded.leaf_key_pem  # made on first use, as before


@needs_root
@pytest.mark.sandbox
def test_closed_before_ready_leaves_no_namespace_process_or_key(tmp_path: Path) -> None:
    sim = Simulator(tmp_path)
    sim.launch()  # as prepare() does: services starting, nobody waited for them yet
    assert sim.namespace in topology.list_namespaces()
    serve = sim._serve
    assert serve is not None
    sim.close()
    assert sim.namespace not in topology.list_namespaces()
    assert serve.poll() is not None
    assert not (tmp_path / "netsim" / "ca.key").exists()


@needs_root
@pytest.mark.sandbox
def test_ready_services_hold_their_keys_and_the_file_is_gone(tmp_path: Path) -> None:
    with Simulator(tmp_path) as sim:
        sim.launch()
        assert (tmp_path / "netsim" / "ca.key").exists()
        sim.start()
        assert not (tmp_path / "netsim" / "ca.key").exists()
        assert sim._serve is not None and sim._serve.poll() is None


def test_services_started_ahead_of_their_settings_end_when_the_analyser_goes() -> None:
    # Started before the CA and firewall exist, they wait for their settings' path on stdin;
    # an analyser gone before it sent them leaves nothing running.
    done = subprocess.run(
        [sys.executable, "-m", "detonate.sandbox.netsim.serve"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 1 and done.stdout == b""
