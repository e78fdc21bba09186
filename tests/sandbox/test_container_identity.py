"""The container as a runtime makes it (issue 8, item 6): a hostname, /etc/hostname and
/etc/hosts as Docker writes them, and the sample's talk to itself (localhost, its own name and
address) kept local: answered by itself, not by the simulated internet's sinkhole, and never
judged as remote traffic."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from detonate.factory import LayerSpec, write_oci_archive
from detonate.factory.busybox import busybox_layer
from detonate.factory.spec import FileSpec, ImageSpec
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.pipeline import scan
from detonate.sandbox.container_identity import hosts_text, write_identity
from detonate.sandbox.netsim.topology import LINKS

from .busybox_image import sandbox_available

# Serves a page on :8080, fetches it through `localhost`, resolves its own hostname (busybox
# nslookup asks the DNS server; nc asks getaddrinfo) and talks HTTP to itself by that name.
SELF_TALK = """#!/bin/sh
mkdir -p /tmp/www && echo self-page > /tmp/www/index.html
httpd -f -p 8080 -h /tmp/www & server=$!
i=0
until wget -q -O /tmp/local.html http://localhost:8080/ || [ $i -ge 50 ]; do
  i=$((i+1)); sleep 1
done
echo "local=$(cat /tmp/local.html)"
me=$(hostname)
echo "hostname=$me"
echo "etc-hostname=$(cat /etc/hostname)"
echo "--- hosts"; cat /etc/hosts; echo "--- end"
nslookup "$me" 2>&1 | sed 's/^/dns: /'
printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc "$me" 8080 | tail -n 1 | sed 's/^/by-name: /'
kill $server
echo "0.0.0.0 pool.competitor.test" >> /etc/hosts && echo hosts-edited
"""


def test_hosts_file_has_loopback_names_and_the_container_by_its_own_address() -> None:
    text = hosts_text("3f2a9c1d7e0b", "10.131.7.2")
    assert text.splitlines()[:2] == [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    assert text.splitlines()[-1] == "10.131.7.2\t3f2a9c1d7e0b"
    assert "3f2a9c1d7e0b" not in hosts_text("3f2a9c1d7e0b", "")  # no network: no own line


def test_identity_files_replace_an_image_symlink_without_following_it(tmp_path: Path) -> None:
    root, outside = tmp_path / "rootfs", tmp_path / "host-hosts"
    (root / "etc").mkdir(parents=True)
    outside.write_text("host file\n")
    (root / "etc" / "hosts").symlink_to(outside)
    write_identity(root, "3f2a9c1d7e0b", "10.131.7.2")
    assert outside.read_text() == "host file\n"
    assert not (root / "etc" / "hosts").is_symlink()
    assert (root / "etc" / "hostname").read_text() == "3f2a9c1d7e0b\n"


@pytest.mark.sandbox
@pytest.mark.slow
def test_talk_to_localhost_and_the_own_hostname_stays_local(tmp_path: Path) -> None:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    spec = ImageSpec(
        name="self-talk",
        layers=(
            busybox_layer(),
            LayerSpec((FileSpec("/start.sh", content=SELF_TALK.encode(), mode=0o755),)),
        ),
        entrypoint=("/start.sh",),
    )
    archive = tmp_path / "self-talk.oci.tar"
    write_oci_archive(spec, archive)
    artifacts = tmp_path / "run"
    options = ScanOptions(
        cache_dir=tmp_path / "cache",
        artifacts_dir=artifacts,
        sandbox=SandboxOptions(timeout_seconds=30, idle_seconds=5),
    )
    report = scan(f"oci-archive:{archive}", options)
    assert report.error is None, report.error
    (log,) = artifacts.glob("detonate-*/output.log")
    output = log.read_text(errors="replace")

    assert "local=self-page" in output  # localhost is the container's own loopback
    hostname = re.search(r"^hostname=(\w+)$", output, re.M)
    assert hostname and re.fullmatch(r"[0-9a-f]{12}", hostname[1]), output
    name = hostname[1]
    assert f"etc-hostname={name}" in output
    hosts = output.split("--- hosts\n", 1)[1].split("--- end", 1)[0].splitlines()
    assert hosts[:2] == ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    address, own_name = hosts[-1].split("\t")
    assert own_name == name and ipaddress.ip_address(address) in LINKS
    assert re.search(rf"^dns: Address: {re.escape(address)}$", output, re.M), output
    assert "by-name: self-page" in output  # its own name reached its own server

    remote = [
        e
        for e in report.events
        if e["kind"] in ("dns_queried", "http_requested", "connected", "bytes_sunk")
    ]
    assert remote == [], "the sample's talk to itself reached the simulated internet"
    connects = [e for e in report.events if e["kind"] == "net.connect" and e["port"] == 8080]
    assert {e["address"] for e in connects} >= {"127.0.0.1", address}
    runtime = [f.rule_id for f in report.findings if f.source.startswith("runtime")]
    # printing /etc/hosts and /etc/hostname is discovery, named at info; nothing else fires
    discovery = {"discovery-network-configuration", "discovery-system-information"}
    assert set(runtime) <= discovery, runtime
    assert all(f.severity == "info" for f in report.findings if f.rule_id in discovery)
    # the setup files are not the sample's doing; its own edit of /etc/hosts is
    assert "hosts-edited" in output  # owned by container root, as Docker's
    changed = {change.path for change in report.files}
    assert "/etc/hosts" in changed
    assert not changed & {"/etc/hostname", "/etc/resolv.conf"}, changed
