"""The host a deployment's binds reach (`-v /:/host`), faked: plausible files and honeytokens.

    host = build_fake_host(tree)                  # an empty dir on the run's own tmpfs
    served = host.serve(("/:/host", "/var/run/docker.sock:/var/run/docker.sock"), rootfs)
    config["mounts"] += served.mounts             # bind mounts of paths inside `tree` only

Attackers bind the host's root to read its secrets and to plant keys and cron jobs on it. A
bind source is never looked up on the real host: it is resolved inside `tree`, which holds what
such scripts look for — /etc/shadow, root's SSH keys and authorized_keys, cloud, registry and
kube credentials, a docker.sock placeholder, crontabs — all fake, the secrets carrying markers
unique to the run (see honeytokens.py). The tree lives on a tmpfs of its own (the run's disk
limit again) that teardown unmounts; what the sample writes into it goes nowhere.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from detonate.model.options import CONTAINER_ID_BASE
from detonate.model.runtime import Honeytoken, HostMount
from detonate.sandbox.honeytokens import Bait, Home, home_baits, new_marker, plant
from detonate.sandbox.netsim.rootfs_files import resolve_in_root

HOST_NAME = "prod-docker-01"
ADMIN = Home("/home/ubuntu", 1000, 1000)
# Destinations a bind must not cover: the sandbox's own mounts and the container's root
FORBIDDEN_DESTINATIONS = ("/proc", "/sys", "/dev")
MAX_BINDS = 32

_PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:100:102:systemd Network Management,,,:/run/systemd:/usr/sbin/nologin
sshd:x:105:65534::/run/sshd:/usr/sbin/nologin
ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash
"""
_GROUP = """root:x:0:
sudo:x:27:ubuntu
shadow:x:42:
docker:x:998:ubuntu
ubuntu:x:1000:
"""
_OS_RELEASE = """PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
"""
_CRONTAB = """SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
17 *	* * *	root	cd / && run-parts --report /etc/cron.hourly
25 6	* * *	root	test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )
"""
_SSHD = "Port 22\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
_DIRS = (
    "bin", "boot", "dev", "etc/cron.d", "etc/cron.hourly", "etc/systemd/system", "etc/ssh",
    "home/ubuntu", "lib", "opt", "proc", "root/.ssh", "run", "sbin", "srv", "sys", "tmp",
    "usr/bin", "usr/local/bin", "usr/sbin", "var/lib/docker", "var/log", "var/run",
    "var/spool/cron/crontabs",
)  # fmt: skip


@dataclass(frozen=True)
class ServedBinds:
    mounts: tuple[dict[str, Any], ...]  # OCI mount entries, sources inside the tree only
    host_mounts: tuple[HostMount, ...]
    tokens: tuple[Honeytoken, ...]  # at the container paths the binds give them
    watched: dict[str, str] = field(default_factory=dict)  # container path → token kind


@dataclass(frozen=True)
class FakeHost:
    tree: Path
    # host path ("/etc/shadow") → (kind, marker) of each bait planted in the tree
    baits: dict[str, tuple[str, str]]

    def serve(self, binds: tuple[str, ...], rootfs: Path) -> ServedBinds:
        """Bind mounts for `binds` ("SRC:DST[:ro]"), each source resolved inside the tree (a
        missing one is created as a directory, as the engine does); binds whose source is not a
        host path (named volumes) or whose destination would cover the sandbox's own mounts
        are left out. `rootfs` (the run's merged tree) resolves the image's symlinks on the way
        to a destination, so the tracer watches the path the kernel reports."""
        mounts: list[dict[str, Any]] = []
        served: list[HostMount] = []
        for bind in binds[:MAX_BINDS]:
            parsed = _parse(bind)
            if parsed is None:
                continue
            source, destination, read_only = parsed
            path = resolve_in_root(self.tree, source)
            if not path.is_relative_to(self.tree):  # resolution stays inside; checked anyway
                continue
            if not os.path.lexists(path):
                _make_dirs(self.tree, path)
            options = ["rbind", "ro" if read_only else "rw", "nosuid", "nodev"]
            mounts.append(
                {
                    "destination": destination,
                    "type": "bind",
                    "source": str(path),
                    "options": options,
                }
            )
            relative = PurePosixPath(path.relative_to(self.tree))
            host_source = "/" if str(relative) == "." else f"/{relative}"
            served.append(HostMount(host_source, destination, read_only))
        tokens: list[Honeytoken] = []
        watched: dict[str, str] = {}
        for host_path, (kind, marker) in self.baits.items():
            for mount in served:
                inside = _container_path(mount, host_path)
                if inside is None:
                    continue
                tokens.append(Honeytoken(inside, kind, marker))
                watched[inside] = kind
                resolved = resolve_in_root(rootfs, inside)
                if resolved.is_relative_to(rootfs):
                    watched["/" + str(resolved.relative_to(rootfs))] = kind
        return ServedBinds(tuple(mounts), tuple(served), tuple(tokens), watched)


def build_fake_host(tree: Path) -> FakeHost:
    """Fill `tree` (empty, on its own tmpfs) with a small Ubuntu host's files and the bait."""
    os.chown(tree, CONTAINER_ID_BASE, CONTAINER_ID_BASE)
    os.chmod(tree, 0o755)
    root = Home("/", 0, 0)
    for directory in _DIRS:
        _make_dirs(tree, tree / directory)
    os.chmod(tree / "tmp", 0o1777)
    home = tree / ADMIN.path.lstrip("/")
    os.lchown(home, CONTAINER_ID_BASE + ADMIN.uid, CONTAINER_ID_BASE + ADMIN.gid)
    baits: dict[str, tuple[str, str]] = {}
    plain = [
        Bait("/etc/hostname", "host-file", f"{HOST_NAME}\n".encode(), "", 0o644),
        Bait("/etc/hosts", "host-file", f"127.0.0.1 localhost\n127.0.1.1 {HOST_NAME}\n".encode(),
             "", 0o644),
        Bait("/etc/passwd", "host-file", _PASSWD.encode(), "", 0o644),
        Bait("/etc/group", "host-file", _GROUP.encode(), "", 0o644),
        Bait("/etc/os-release", "host-file", _OS_RELEASE.encode(), "", 0o644),
        Bait("/etc/crontab", "host-file", _CRONTAB.encode(), "", 0o644),
        Bait("/etc/ssh/sshd_config", "host-file", _SSHD.encode(), "", 0o644),
        Bait("/root/.ssh/authorized_keys", "host-file", _authorized_key("admin@bastion"), ""),
        Bait("/var/run/docker.sock", "docker-socket", b"", "", 0o660),  # a placeholder, no API
    ]  # fmt: skip
    for bait in (*plain, _shadow(), *_kube_configs(), *home_baits("/root")):
        if plant(tree, bait, root) is not None and bait.marker:
            baits[bait.path] = (bait.kind, bait.marker)
    for bait in home_baits(ADMIN.path):
        if plant(tree, bait, ADMIN) is not None:
            baits[bait.path] = (bait.kind, bait.marker)
    return FakeHost(tree, baits)


def _parse(bind: str) -> tuple[str, str, bool] | None:
    """ "/:/host:ro" → ("/", "/host", True); None for named volumes and unusable targets."""
    parts = bind.split(":")
    if len(parts) < 2 or not parts[0].startswith("/") or not parts[1].startswith("/"):
        return None
    source, destination = parts[0], os.path.normpath(parts[1])
    if destination == "/" or any(
        destination == d or destination.startswith(d + "/") for d in FORBIDDEN_DESTINATIONS
    ):
        return None
    options = parts[2].split(",") if len(parts) > 2 else []
    return source, destination, "ro" in options


def _container_path(mount: HostMount, host_path: str) -> str | None:
    source = mount.source.rstrip("/")
    if host_path != source and not host_path.startswith(source + "/"):
        return None
    rest = host_path[len(source) :].lstrip("/")
    return str(PurePosixPath(mount.destination) / rest) if rest else mount.destination


def _make_dirs(tree: Path, path: Path) -> None:
    """mkdir -p inside the tree, owned by the container's root (the host's root to the sample)."""
    current = tree
    for part in path.relative_to(tree).parts:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            return
        if not current.exists():
            os.mkdir(current, 0o700 if part in ("root", ".ssh") else 0o755)
            os.lchown(current, CONTAINER_ID_BASE, CONTAINER_ID_BASE)


def _authorized_key(comment: str) -> bytes:
    blob = base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + secrets.token_bytes(32))
    return f"ssh-ed25519 {blob.decode()} {comment}\n".encode()


def _shadow() -> Bait:
    """root's password hash carries the marker as its salt ($6$<salt>$<hash>)."""
    marker = new_marker()
    alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    digest = "".join(secrets.choice(alphabet) for _ in range(86))
    text = (
        f"root:$6${marker}${digest}:19814:0:99999:7:::\n"
        "daemon:*:19814:0:99999:7:::\nwww-data:*:19814:0:99999:7:::\nsshd:*:19814:0:99999:7:::\n"
        f"ubuntu:$6${secrets.token_hex(8)}${digest[::-1]}:19814:0:99999:7:::\n"
    )
    return Bait("/etc/shadow", "shadow", text.encode(), marker, 0o640)


def _kube_configs() -> list[Bait]:
    """An admin kubeconfig where kubeadm and users keep it; the bearer token is the bait."""
    marker = new_marker()
    token = marker + secrets.token_urlsafe(40)
    config = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
        "    server: https://k8s-api.internal.test:6443\n    insecure-skip-tls-verify: true\n"
        "  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: admin\n  name: prod\n"
        f"current-context: prod\nusers:\n- name: admin\n  user:\n    token: {token}\n"
    ).encode()
    return [
        Bait("/root/.kube/config", "kube-config", config, marker),
        Bait("/etc/kubernetes/admin.conf", "kube-config", config, marker),
    ]
