"""What a container runtime tells a container about itself: its hostname (the OCI `hostname`
of its UTS namespace), `/etc/hostname` and `/etc/hosts`, as Docker writes them:

    127.0.0.1	localhost
    ::1	localhost ip6-localhost ip6-loopback
    fe00::0	ip6-localnet
    ff00::0	ip6-mcastprefix
    ff02::1	ip6-allnodes
    ff02::2	ip6-allrouters
    10.131.7.2	3f2a9c1d7e0b

Without them `localhost` and the container's own name are looked up in DNS, where the
simulated internet would answer with a sinkhole: a server's self-checks would become remote
traffic and software that resolves its own name (RabbitMQ) would never start. Both files are
written into the run's rootfs before it starts, so the filesystem diff leaves them out unless
the sample changes them, and owned by container root as Docker's are (a sample may edit its
/etc/hosts: miners point competitors' pools at 0.0.0.0).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from detonate.model.options import CONTAINER_ID_BASE
from detonate.sandbox.netsim.rootfs_files import resolve_in_root

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def new_hostname() -> str:
    """12 hex digits, as Docker names a container by the start of its id."""
    return secrets.token_hex(6)


def hosts_text(hostname: str, address: str) -> str:
    """/etc/hosts; without a network (no address) only the loopback names, as Docker's
    `--network none` gives."""
    return HOSTS_HEADER + (f"{address}\t{hostname}\n" if address else "")


def write_identity(root: Path, hostname: str, address: str) -> None:
    """Writes /etc/hostname and /etc/hosts into the rootfs at `root`, replacing the image's
    (a symlink among them is replaced itself, never followed out of the rootfs)."""
    etc = resolve_in_root(root, "etc")
    etc.mkdir(parents=True, exist_ok=True)
    _replace(etc / "hostname", f"{hostname}\n")
    _replace(etc / "hosts", hosts_text(hostname, address))


def _replace(target: Path, text: str) -> None:
    if target.is_symlink() or (target.exists() and not target.is_file()):
        if target.is_dir() and not target.is_symlink():
            return  # an image with a directory there: leave it, as a bind mount would fail
        target.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(target, flags, 0o644)
    try:
        os.fchown(fd, CONTAINER_ID_BASE, CONTAINER_ID_BASE)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
