"""Bait planted in the run's rootfs before the sample starts: fake cloud, SSH, kube and registry
credentials, each carrying a marker unique to the run.

Credential stealers (THREATS.md: TeamTNT-style scripts) read these exact paths; the tracer
reports every open of them for reading, and the marker lets a finding prove that a token's
content left the container. The values are obviously fake ("AKIADETONATE…") and worthless.

The rootfs is image content: paths are resolved inside it (an image's `/root -> /` link stays
inside the rootfs), nothing existing is overwritten, files are created with O_EXCL|O_NOFOLLOW.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from detonate.model.options import CONTAINER_ID_BASE
from detonate.model.runtime import Honeytoken
from detonate.sandbox.netsim.rootfs_files import resolve_in_root

KUBE_SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
# The simulated DNS answers every name, so in-cluster clients reach the simulated internet.
KUBERNETES_ENV = (
    ("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc"),
    ("KUBERNETES_SERVICE_PORT", "443"),
    ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
    ("KUBERNETES_PORT", "tcp://kubernetes.default.svc:443"),
)


@dataclass(frozen=True)
class Home:
    path: str  # inside the container
    uid: int
    gid: int


@dataclass(frozen=True)
class Planted:
    tokens: tuple[Honeytoken, ...]
    # Every container path that reaches a token (also through the image's symlinks, e.g.
    # /var/run -> /run) → the token's kind: the tracer's watch list.
    watched: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bait:
    path: str
    kind: str
    content: bytes
    marker: str
    mode: int = 0o600


def kubernetes_env(env: tuple[str, ...]) -> tuple[str, ...]:
    """`env` plus the in-cluster variables the image does not set itself."""
    names = {item.partition("=")[0] for item in env}
    return env + tuple(f"{k}={v}" for k, v in KUBERNETES_ENV if k not in names)


def homes_for(uid: int, gid: int, env: tuple[str, ...]) -> tuple[Home, ...]:
    """root's home always; the run user's home too when the image runs as someone else."""
    homes = [Home("/root", 0, 0)]
    home = next((e.partition("=")[2] for e in env if e.startswith("HOME=")), "")
    if uid != 0 and home.startswith("/") and home.rstrip("/") not in ("", "/root"):
        homes.append(Home(home.rstrip("/"), uid, gid))
    return tuple(homes)


def plant_honeytokens(rootfs: Path, homes: Sequence[Home]) -> Planted:
    """Write the bait into `rootfs` (the run's merged overlay) and say what was planted."""
    tokens: list[Honeytoken] = []
    watched: dict[str, str] = {}
    for owner, baits in [(home, home_baits(home.path)) for home in homes] + [
        (Home("/", 0, 0), _service_account_baits())
    ]:
        for bait in baits:
            host = plant(rootfs, bait, owner)
            if host is None:
                continue
            tokens.append(Honeytoken(bait.path, bait.kind, bait.marker))
            watched[bait.path] = bait.kind
            watched["/" + str(host.relative_to(rootfs))] = bait.kind
    return Planted(tuple(tokens), watched)


def new_marker() -> str:
    # hex after an uppercase word: valid inside base64, JWT and AWS-key alphabets alike
    return "DETONATE" + secrets.token_hex(8)


def home_baits(home: str) -> list[Bait]:
    key_id = "AKIADETONATE" + base64.b32encode(secrets.token_bytes(5)).decode()
    aws = (
        "[default]\n"
        f"aws_access_key_id = {key_id}\n"
        f"aws_secret_access_key = {secrets.token_urlsafe(30)}\n"
        "region = us-east-1\n"
    )
    ssh_marker = new_marker()
    # The openssh-key-v1 magic, then random base64 with the marker at the start of a line.
    body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn"
    body += ssh_marker + base64.b64encode(secrets.token_bytes(720)).decode()
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines)
    ssh += "\n-----END OPENSSH PRIVATE KEY-----\n"
    auth = base64.b64encode(f"detonate-bait:{new_marker()}".encode()).decode()
    docker = json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}}, indent=1)
    return [
        Bait(f"{home}/.aws/credentials", "aws-credentials", aws.encode(), key_id),
        Bait(f"{home}/.ssh/id_rsa", "ssh-private-key", ssh.encode(), ssh_marker),
        Bait(f"{home}/.docker/config.json", "docker-config", docker.encode() + b"\n", auth),
    ]


def _service_account_baits() -> list[Bait]:
    def b64url(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    marker = new_marker()
    header = b64url({"alg": "RS256", "kid": "detonate-honeytoken"})
    claims = b64url(
        {
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/service-account.name": "default",
            "sub": "system:serviceaccount:default:default",
        }
    )
    signature = marker + secrets.token_urlsafe(96)
    ca = base64.b64encode(secrets.token_bytes(600)).decode()
    ca_pem = "-----BEGIN CERTIFICATE-----\n"
    ca_pem += "\n".join(ca[i : i + 64] for i in range(0, len(ca), 64))
    ca_pem += "\n-----END CERTIFICATE-----\n"
    sa = KUBE_SERVICE_ACCOUNT
    token = f"{header}.{claims}.{signature}".encode()
    return [
        Bait(f"{sa}/token", "kube-token", token, marker, 0o644),
        Bait(f"{sa}/namespace", "kube-namespace", b"default", "", 0o644),
        Bait(f"{sa}/ca.crt", "kube-ca", ca_pem.encode(), "", 0o644),
    ]


def plant(rootfs: Path, bait: Bait, owner: Home) -> Path | None:
    """Create the bait's missing parent directories and the file; None when the image has
    something there already (its own file is left alone) or a parent is not a directory."""
    parent = resolve_in_root(rootfs, str(PurePosixPath(bait.path).parent))
    home = resolve_in_root(rootfs, owner.path) if owner.path != "/" else None
    current = rootfs
    for part in parent.relative_to(rootfs).parts:
        current = current / part
        if current.is_symlink():
            return None  # resolution leaves none; a link here means a broken resolution
        if current.is_dir():
            continue
        if current.exists():
            return None
        mine = home is not None and current.is_relative_to(home)
        os.mkdir(current, 0o700 if mine else 0o755)
        uid, gid = (owner.uid, owner.gid) if mine else (0, 0)
        os.lchown(current, CONTAINER_ID_BASE + uid, CONTAINER_ID_BASE + gid)
    target = parent / PurePosixPath(bait.path).name
    if os.path.lexists(target):
        return None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(target, flags, bait.mode)
    try:
        os.write(fd, bait.content)
        os.fchmod(fd, bait.mode)
        os.fchown(fd, CONTAINER_ID_BASE + owner.uid, CONTAINER_ID_BASE + owner.gid)
    finally:
        os.close(fd)
    return target
