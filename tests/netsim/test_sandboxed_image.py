"""Issue 4 inside a real sandboxed image, through `detonate.pipeline.scan`: nothing leaves the
simulated internet whatever the sample tries (samples/containment/escape-everything); clients the
project did not write (busybox nslookup, wget, nc) reach every service and the JSON report shows
it all (samples/containment/real-clients); and a run after an analyser was SIGKILLed removes the
simulated internet that analyser left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from netsim_support import HostCapture, HostListeners, host_addresses

from detonate.factory import build_sample
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.pipeline import scan
from detonate.report.json_report import to_document, validate
from detonate.sandbox.netsim import topology
from detonate.sandbox.netsim.payloads import MARKER
from detonate.sandbox.watchdog import watchdogs_of

REPO = Path(__file__).resolve().parents[2]
CONTAINMENT = REPO / "samples" / "containment"
TCP_PORT, UDP_PORT = 18_881, 18_882  # the escape probe's ports (its image's cmd)
PUBLIC = ("198.51.100.1", "1.1.1.1", "8.8.8.8")
PRIVATE = ("10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1")
METADATA = "169.254.169.254"
IPV6 = ("2001:db8::1", "fd00::2")
FORGED_SOURCE = "192.0.2.99"  # the probe's raw packets claim this source
RUN = SandboxOptions(timeout_seconds=40, idle_seconds=5)


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("runc", "strace", "gcc", "tcpdump", "iptables", "ip"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return ""


pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(bool(_missing()), reason=_missing())]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("containment-images")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _scan(
    recipe: str, images: Path, cache_dir: Path, artifacts: Path, sandbox: SandboxOptions = RUN
) -> tuple[dict[str, Any], str]:
    """Build samples/containment/RECIPE, scan it; the validated JSON document and the output."""
    built = build_sample(CONTAINMENT / recipe, images)
    options = ScanOptions(cache_dir=cache_dir, artifacts_dir=artifacts, sandbox=sandbox)
    document = to_document(scan(built.archive_reference, options))
    validate(document)
    assert document["error"] is None, document["error"]
    output = "".join(p.read_text(errors="replace") for p in artifacts.glob("*/output.log"))
    return document, output


def _of(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in document["events"] if e["kind"] == kind]


def test_nothing_leaves_a_sandboxed_image_that_tries_every_way_out(
    images: Path, cache_dir: Path, tmp_path: Path
) -> None:
    own = [a for a in host_addresses() if a not in IPV6]
    targets_v4 = [*PUBLIC, *PRIVATE, METADATA, *(a for a in own if ":" not in a)]
    targets_v6 = [*IPV6, *(a for a in own if ":" in a)]
    hosts = " or ".join(f"host {a}" for a in (*PUBLIC, *PRIVATE, METADATA, IPV6[0]))
    capture = HostCapture(
        tmp_path / "host.pcap",
        f"port {TCP_PORT} or port {UDP_PORT} or {hosts} or src host {FORGED_SOURCE}",
    )
    listeners = HostListeners(TCP_PORT, UDP_PORT)
    control_peer = listeners.control()
    sandbox = SandboxOptions(timeout_seconds=40, idle_seconds=5, env=(
        "ESCAPE_HOST_ADDRS=" + ",".join(own),))  # fmt: skip
    try:
        document, output = _scan("escape-everything", images, cache_dir, tmp_path / "run", sandbox)
    finally:
        captured = capture.stop()
        listeners.close()

    # the host heard its own control datagram and nothing else, on the socket and on the wire
    assert listeners.arrived == [control_peer]
    assert len(captured) == 1 and "127.0.0.1" in captured[0], captured
    # the probe ran them all: every IPv4 attempt got through (to the simulator), IPv6 nowhere
    attempts = dict(line.rsplit(" ", 1) for line in output.splitlines() if line.endswith(" ok"))
    for address in targets_v4:
        for what, port in (("tcp", TCP_PORT), ("udp", UDP_PORT), ("raw", UDP_PORT)):
            assert attempts.get(f"{what} {address} {port}") == "ok", (what, address, output)
    assert "dns-tcp 8.8.8.8 53 ok" in output and f"packet {PUBLIC[0]} {UDP_PORT} ok" in output
    for address in targets_v6:
        assert f"tcp6 {address} {TCP_PORT} error" in output

    network = document["network"]
    # TCP: the simulator's catch-all took each, with the destination the sample asked for
    connections = {(c["dst_ip"], c["dst_port"]): c for c in network["connections"]}
    for address in targets_v4:
        assert connections[(address, TCP_PORT)]["pid"] != 0, address
    assert connections[("8.8.8.8", 53)]["protocol"] == "dns"
    assert [d["name"] for d in network["dns"] if d["transport"] == "tcp"] == ["escape.test"]
    # UDP, and the forged raw datagrams: sunk by the simulator, one of each per address
    sunk = [(s["dst_ip"], s["dst_port"]) for s in network["sinks"] if s["kind"] == "datagram_sunk"]
    for address in targets_v4:
        assert sunk.count((address, UDP_PORT)) >= 2, (address, sunk)
    # the tracer saw every attempt from inside, failed ones included
    connects = {(e["address"], e["port"]): e for e in _of(document, "net.connect")}
    for address in targets_v6:
        assert not connects[(address, TCP_PORT)]["succeeded"]
        assert connects[(address, TCP_PORT)]["error"]
    sends = _of(document, "net.send")
    raw = {e["address"] for e in sends if e["protocol"] == "RAW"}
    assert raw >= set(targets_v4)
    assert any(e["family"] == "AF_PACKET" for e in sends)
    udp6 = {e["address"] for e in sends if e["family"] == "AF_INET6" and not e["succeeded"]}
    assert udp6 >= set(targets_v6)
    # the simulator's own capture saw the traffic that the host's did not
    assert network["traffic"]["distinct_addresses"] >= len(targets_v4)
    assert network["traffic"]["packets"] > 0


WALLET = "47BUxhPLvy3JGLDY9z2pEh9x2dNWnZC3EKF7rna4fqTdHXyoyYtWAwizAwYVmKS7uurJHCyKddP59xH7BKrqFHf87HDrv9d"  # noqa: E501 - the fake wallet of samples/containment/real-clients


def test_busybox_clients_in_a_sandboxed_image_reach_every_service(
    images: Path, cache_dir: Path, tmp_path: Path
) -> None:
    document, output = _scan("real-clients", images, cache_dir, tmp_path / "run")
    network, iocs = document["network"], document["iocs"]

    def one(section: str, **match: Any) -> dict[str, Any]:
        rows = [r for r in network[section] if all(r.get(k) == v for k, v in match.items())]
        assert rows, (section, match, network.get(section))
        assert all(r["pid"] != 0 for r in rows), rows  # attributed to the process that did it
        return rows[0]

    # nslookup (and nc after it) resolved the pool; nc spoke stratum and got two jobs
    one("dns", name="pool.supportxmr.test", qtype="A")
    login = one("stratum", kind="stratum_login")
    assert (login["wallet"], login["worker"], login["dialect"]) == (WALLET, "rig7", "xmrig")
    assert login["domain"] == "pool.supportxmr.test" and login["dst_port"] == 3333
    assert one("stratum", kind="stratum_session_ended")["jobs_sent"] == 2
    assert "jobs received: 2" in output
    assert iocs["wallets"] == [WALLET]
    assert iocs["pools"] == ["stratum+tcp://pool.supportxmr.test:3333"]
    # wget over HTTP and over HTTPS (busybox's own TLS, SNI), and each script ran
    one("http", path="/x86_64/install.sh", tls=False, served="script")
    one("http", path="/stage2.sh", tls=True, sni="cdn.payload.test", served="script")
    assert one("tls", sni="cdn.payload.test")["handshake_ok"]
    for url in ("http://dl.payload.test/x86_64/install.sh", "https://cdn.payload.test/stage2.sh"):
        assert url in iocs["urls"]
    assert f"{MARKER} script /x86_64/install.sh" in output
    assert f"{MARKER} script /stage2.sh" in output
    # nc joined IRC and talked in the channel
    assert one("irc", kind="irc_joined", channel="#ops")["nick"] == "rc7"
    assert one("irc", kind="irc_messaged", target="#ops")["text"] == "up"
    # nc asked the Docker API on 2375 for a privileged container with / bound, and started it
    create = one("docker_api", operation="container.create")
    assert create["privileged"] and create["binds"] == ["/:/host"]
    assert create["dst_ip"] == "203.0.113.5" and create["dst_port"] == 2375
    one("docker_api", operation="container.start")
    # the same calls as events of the stream, each with the busybox process that made it
    kinds = {e["kind"] for e in document["events"] if e["pid"] != 0}
    assert kinds >= {"dns_queried", "stratum_login", "http_requested", "tls_hello",
                     "irc_joined", "docker_api_called"}  # fmt: skip


IDLE_IMAGE = """\
name: idle-listener
entrypoint: [/bin/busybox, nc, -l, -p, "9999"]  # waits for ever, idle
"""


def _namespaces_of(pid: int) -> list[str]:
    return [
        name
        for name in topology.list_namespaces()
        if (owner := topology.namespace_owner(name)) is not None and owner[0] == pid
    ]


def _netns_pids(namespace: str) -> list[int]:
    listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    return [int(pid) for pid in listed.stdout.split()]


def test_the_next_run_removes_the_simulated_internet_of_a_killed_analyser(
    images: Path, cache_dir: Path, tmp_path: Path
) -> None:
    recipe = tmp_path / "idle-listener"
    recipe.mkdir()
    (recipe / "image.yaml").write_text(IDLE_IMAGE)
    built = build_sample(recipe, images)
    analyser_code = (
        "import sys; from pathlib import Path\n"
        "from detonate.model.options import SandboxOptions, ScanOptions\n"
        "from detonate.pipeline import scan\n"
        "options = ScanOptions(cache_dir=Path(sys.argv[2]), artifacts_dir=Path(sys.argv[3]),\n"
        "    sandbox=SandboxOptions(timeout_seconds=60, idle_seconds=0))\n"
        "scan(sys.argv[1], options)\n"
    )
    analyser = subprocess.Popen(
        [sys.executable, "-c", analyser_code, built.archive_reference, str(cache_dir),
         str(tmp_path / "killed")],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        left: list[int] = []
        while time.monotonic() < deadline and analyser.poll() is None:
            namespaces = _namespaces_of(analyser.pid)
            left = _netns_pids(namespaces[0]) if namespaces else []
            if len(left) >= 2:  # services and the capture: the sample is wired and running
                break
            time.sleep(0.2)
        assert len(left) >= 2, "the analyser never got its simulated internet up"
        time.sleep(0.5)
        for watchdog in watchdogs_of(analyser.pid):  # else it removes everything at once
            os.kill(watchdog, signal.SIGKILL)
        analyser.send_signal(signal.SIGKILL)
    finally:
        if analyser.poll() is None:
            analyser.kill()
        analyser.wait()
    namespace = _namespaces_of(analyser.pid)
    assert len(namespace) == 1  # the dead analyser left its simulated internet behind …
    # … with processes in it, read after the kill: pids seen while it was starting may have
    # been short-lived set-up commands that ended on their own.
    left = [pid for pid in _netns_pids(namespace[0]) if _running(pid)]
    assert left

    quick = SandboxOptions(timeout_seconds=20, idle_seconds=2, entrypoint=("/bin/busybox", "true"))
    options = ScanOptions(cache_dir=cache_dir, artifacts_dir=tmp_path / "next", sandbox=quick)
    report = scan(built.archive_reference, options)
    assert report.error is None and report.run.status == "exited", report.run

    assert namespace[0] not in topology.list_namespaces()
    deadline = time.monotonic() + 5  # SIGKILLed: gone, or a zombie until init reaps it
    while [pid for pid in left if _running(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in left if _running(pid)]


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
