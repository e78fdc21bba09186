"""Nothing the sample sends leaves the simulator: listeners and a capture in the host's
namespace hear nothing while the sample tries every way out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from netsim_support import HostCapture, HostListeners, SampleNetns, host_addresses, needs_root

from detonate.model.netevents import Connected
from detonate.sandbox.netsim import NetsimConfig, Simulator, cleanup_leftovers

pytestmark = [needs_root, pytest.mark.sandbox]
TCP_PORT, UDP_PORT = 18_871, 18_872  # unlikely to be used by anything else on the host

ESCAPES = """
import json, socket, struct, sys
targets = json.loads(sys.argv[1]); tcp, udp = int(sys.argv[2]), int(sys.argv[3])
reached = {}
for address in targets:
    try:
        socket.create_connection((address, tcp), timeout=2).close()
        reached[address] = "simulator"  # accepted: by the catch-all, checked by the caller
    except OSError as error:
        reached[address] = type(error).__name__
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"escape?", (address, udp))
    except OSError:
        pass
for address in ("2001:db8::1", "fd00::2", "::ffff:198.51.100.1"):
    try:
        socket.create_connection((address, tcp), timeout=2).close()
        reached[address] = "connected"
    except OSError as error:
        reached[address] = type(error).__name__
# a raw UDP datagram with our own IP header, and a raw ICMP echo
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for address in targets:
    payload = b"raw-escape"
    udp_header = struct.pack("!HHHH", 40000, udp, 8 + len(payload), 0)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(payload), 1, 0, 64, 17, 0,
                         socket.inet_aton("192.0.2.99"), socket.inet_aton(address))
    try:
        raw.sendto(header + udp_header + payload, (address, 0))
    except OSError:
        pass
ping = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for address in targets:
    try:
        ping.sendto(b"\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00", (address, 0))
    except OSError:
        pass
# DNS over TCP to a public resolver
try:
    socket.create_connection(("8.8.8.8", 53), timeout=2).close()
    reached["8.8.8.8:53"] = "simulator"
except OSError as error:
    reached["8.8.8.8:53"] = type(error).__name__
print(json.dumps(reached))
"""


def test_nothing_leaves_the_simulator(sample_netns: SampleNetns, tmp_path: Path) -> None:
    targets = [
        "198.51.100.1", "1.1.1.1", "8.8.8.8",  # public (documentation and real resolvers)
        "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1",  # private and shared ranges
        "169.254.169.254",  # cloud metadata
        *[a for a in host_addresses() if ":" not in a],  # the host itself
    ]  # fmt: skip
    host_capture = HostCapture(
        tmp_path / "host.pcap",
        f"port {TCP_PORT} or port {UDP_PORT} or host 1.1.1.1 or host 8.8.8.8 or "
        "host 198.51.100.1 or host 169.254.169.254 or src host 192.0.2.99",
    )
    listeners = HostListeners(TCP_PORT, UDP_PORT)
    control_peer = listeners.control()
    sim = Simulator(tmp_path / "run", NetsimConfig(idle_seconds=3))
    try:
        sim.start()
        sim.attach(sample_netns.pid)
        routes = sample_netns.run("ip", "route").stdout
        attempts = sample_netns.python(ESCAPES, json.dumps(targets), str(TCP_PORT), str(UDP_PORT))
        assert attempts.returncode == 0, attempts.stderr
        reached = json.loads(attempts.stdout)
        events = sim.collect()
    finally:
        sim.close()
        captured = host_capture.stop()
        listeners.close()

    assert listeners.arrived == [control_peer]
    assert len(captured) == 1 and "127.0.0.1" in captured[0], captured
    # the sample's only way is the simulator: one /30 and a default route through it
    assert routes.startswith(f"default via {sim.sim_ip} dev eth0")
    assert len(routes.strip().splitlines()) == 2
    # every IPv4 attempt landed in the simulator's catch-all, IPv6 had nowhere to go
    connected = {e.dst_ip for e in events if isinstance(e, Connected) and e.dst_port == TCP_PORT}
    assert connected == set(targets)
    assert all(reached[a] == "simulator" for a in targets)
    assert reached["8.8.8.8:53"] == "simulator"
    for address in ("2001:db8::1", "fd00::2"):
        assert reached[address] != "connected"
    # the raw packets reached the simulator's capture, not the host
    traffic = events[-1]
    assert traffic.kind == "traffic_measured" and traffic.packets > 0


def test_cleanup_removes_a_crashed_runs_namespace_and_services(tmp_path: Path) -> None:
    sim = Simulator(tmp_path / "run")
    sim.start()
    serve_pid = sim._serve.pid if sim._serve else 0  # a run that "crashed" without close()
    removed = cleanup_leftovers(prefix=sim.namespace)
    assert removed == [sim.namespace]
    assert sim.namespace not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                               text=True).stdout  # fmt: skip
    assert sim._serve is not None and sim._serve.wait(5) != 0
    assert not Path(f"/proc/{serve_pid}/status").exists()
    sim.close()  # still safe afterwards
