"""Mining, honeytokens and escapes: detectors over the simulated internet's sessions."""

from __future__ import annotations

import base64

from detonate.detect.correlations.container_escape import ContainerEscape
from detonate.detect.correlations.honeytokens import Honeytokens
from detonate.detect.correlations.mining import Mining
from detonate.model.events import FileOpenedForRead, FileOpenedForWrite, PrivilegedAttempt
from detonate.model.findings import Severity
from detonate.model.netevents import DnsQueried, DockerApiCalled, HttpRequested, StratumLogin
from detonate.model.runtime import EndReason, Honeytoken, RunInfo, RunStatus

from .stream import Stream

WALLET = "4" + "A" * 94
AWS = Honeytoken("/root/.aws/credentials", "aws-credentials", "AKIADETONATE0000TEST")


def login(s: Stream, pid: int, donation: bool = False, dialect: str = "xmrig") -> None:
    s.connect(pid, "198.18.0.1", 3333)
    s.add(
        StratumLogin,
        pid,
        dialect=dialect,
        login=f"{WALLET}.rig",
        wallet=WALLET,
        worker="rig",
        agent="XMRig/6.21.0",
        algos=("rx/0",),
        dst_ip="198.18.0.1",
        dst_port=3333,
        domain="pool.test",
        donation=donation,
    )


def test_stratum_login_of_any_dialect_is_critical_mining() -> None:
    s = Stream()
    s.exec(1, "[kworker/0:1]", path="/tmp/.k")
    login(s, 1, dialect="bitcoin")
    found = {f.rule_id: f for f in Mining().detect(s.view())}
    assert set(found) == {"stratum-mining-login", "mining-pool-connection"}
    evidence = found["stratum-mining-login"].evidence[0]
    assert found["stratum-mining-login"].severity == Severity.CRITICAL
    assert WALLET in evidence.excerpt and "rx/0" in evidence.excerpt
    assert evidence.destination == "pool.test:3333 (198.18.0.1)"


def test_donation_connection_alone_is_not_the_attackers_pool() -> None:
    s = Stream()
    s.exec(1, "xmrig", path="/opt/xmrig")
    login(s, 1, donation=True)
    assert Mining().detect(s.view()) == ()


def _busy(cpu: float) -> RunInfo:
    return RunInfo(RunStatus.COMPLETED, EndReason.TIMEOUT, 60.0, 10, cpu_seconds=cpu)


def test_pool_port_traffic_with_busy_cpu_is_mining() -> None:
    s = Stream(run=_busy(55.0))
    s.exec(1, "svc", path="/usr/bin/svc")
    s.connect(1, "203.0.113.30", 14444)
    assert [f.rule_id for f in Mining().detect(s.view())] == ["pool-port-traffic-with-cpu"]


def test_cpu_heavy_job_without_pool_traffic_is_not_mining() -> None:
    # B3: hashing and compression, no network
    s = Stream(run=_busy(58.0))
    s.exec(1, "sha256sum", path="/bin/busybox")
    assert Mining().detect(s.view()) == ()


def test_marker_base64_encoded_in_a_dns_label_is_exfiltration() -> None:
    s = Stream(honeytokens=[AWS])
    s.exec(1, "sh", "/x.sh", path="/bin/sh")
    s.add(FileOpenedForRead, 1, path=AWS.path, flags="O_RDONLY", honeytoken=AWS.kind)
    label = base64.b64encode(b"key=" + AWS.marker.encode()).decode().rstrip("=")
    s.add(DnsQueried, 0, name=f"{label}.exfil.test", qtype="A", rcode="NOERROR")
    found = {f.rule_id: f for f in Honeytokens().detect(s.view())}
    assert set(found) == {"honeytoken-read", "honeytoken-exfiltration"}
    assert "DNS" in found["honeytoken-exfiltration"].evidence[0].description


def test_marker_in_a_post_body_is_exfiltration_without_a_traced_read() -> None:
    s = Stream(honeytokens=[AWS])
    s.add(
        HttpRequested,
        0,
        method="POST",
        host="drop.test",
        path="/u",
        body_preview=f"aws_access_key_id = {AWS.marker}",
        dst_ip="198.18.0.3",
        dst_port=80,
    )
    assert [f.rule_id for f in Honeytokens().detect(s.view())] == ["honeytoken-exfiltration"]


def test_traffic_without_markers_and_no_reads_is_clean() -> None:
    s = Stream(honeytokens=[AWS])
    s.add(
        HttpRequested,
        0,
        method="GET",
        host="deb.test",
        path="/InRelease",
        dst_ip="198.18.0.3",
        dst_port=80,
    )
    assert Honeytokens().detect(s.view()) == ()


def _docker(s: Stream, operation: str, **fields: object) -> None:
    s.add(
        DockerApiCalled,
        1,
        method="POST",
        path="/containers/create",
        operation=operation,
        dst_ip="203.0.113.5",
        dst_port=2375,
        **fields,  # type: ignore[arg-type]
    )


def test_privileged_host_root_container_created_and_started_is_an_escape() -> None:
    s = Stream()
    s.exec(1, "deploy", path="/usr/local/bin/deploy")
    _docker(s, "container.create", image="alpine", privileged=True, binds=("/:/host",))
    _docker(s, "container.start")
    found = {f.rule_id for f in ContainerEscape().detect(s.view())}
    assert found == {"docker-api-container-deploy", "docker-api-privileged-container"}


def test_listing_containers_is_not_a_deploy() -> None:
    # B7: GET /containers/json
    s = Stream()
    s.exec(1, "exporter", path="/exporter")
    _docker(s, "container.list")
    assert ContainerEscape().detect(s.view()) == ()


def test_cgroup_mount_then_release_agent_write_is_an_escape_even_when_blocked() -> None:
    s = Stream()
    s.exec(1, "sh", "/b.sh", path="/bin/sh")
    s.add(
        PrivilegedAttempt,
        1,
        call="mount",
        args='"cgroup", "/tmp/cg", "cgroup", 0, "rdma"',
        source="cgroup",
        path="/tmp/cg",
        fstype="cgroup",
        succeeded=False,
        error="EPERM",
    )
    s.add(FileOpenedForWrite, 1, path="/tmp/cg/release_agent", flags="O_WRONLY|O_CREAT")
    (found,) = ContainerEscape().detect(s.view())
    assert found.rule_id == "cgroup-release-agent-escape"
    assert "EPERM" in found.evidence[0].description


def test_release_agent_path_written_without_a_cgroup_mount_is_left_to_single_rules() -> None:
    s = Stream()
    s.exec(1, "sh", "/b.sh", path="/bin/sh")
    s.add(FileOpenedForWrite, 1, path="/tmp/notes/release_agent", flags="O_WRONLY|O_CREAT")
    assert ContainerEscape().detect(s.view()) == ()
