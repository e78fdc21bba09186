"""Files the simulator puts into the container's rootfs: resolv.conf and the run's CA.

The rootfs is image content: any path in it may be a symlink pointing at the host's own files
(`/etc/ssl/cert.pem -> /etc/passwd`). Every path is resolved inside the rootfs, as the
container would see it, and the final component is opened with O_NOFOLLOW.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from detonate.errors import SandboxError

# Where the common distributions' TLS clients look for their trust bundle.
TRUST_BUNDLES = (
    "etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL, CentOS
    "etc/ssl/cert.pem",  # Alpine (LibreSSL), some others
    "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # RHEL 7+
    "etc/ssl/ca-bundle.pem",  # openSUSE
    "etc/pki/tls/cacert.pem",  # OpenELEC
)
MAX_LINKS = 40


def resolve_in_root(root: Path, relative: str) -> Path:
    """The host path of `relative` as seen from inside `root`, with symlinks kept inside it.

    The last component is returned unresolved if it is a dangling or missing entry.
    """
    parts = list(PurePosixPath(relative.lstrip("/")).parts)
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            links += 1
            if links > MAX_LINKS:
                raise SandboxError(f"too many symlinks resolving {relative} in the rootfs")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = list(PurePosixPath(target.lstrip("/")).parts) + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


def write_resolv_conf(root: Path, nameserver: str) -> None:
    etc = resolve_in_root(root, "etc")
    etc.mkdir(parents=True, exist_ok=True)
    target = etc / "resolv.conf"
    if target.is_symlink() or (target.exists() and not target.is_file()):
        target.unlink()  # a link to systemd-resolved's stub: replace the link itself
    _write(
        target, f"nameserver {nameserver}\noptions timeout:2 attempts:2\n".encode(), append=False
    )


def add_trust_anchor(root: Path, ca_pem: bytes) -> list[str]:
    """Appends the CA to every trust bundle the image has, and creates the Debian one if absent.

    Returns the rootfs paths written (each once, even when several are links to one file).
    """
    written: list[str] = []
    seen: set[Path] = set()
    for relative in TRUST_BUNDLES:
        target = resolve_in_root(root, relative)
        if target in seen:
            continue
        exists = target.is_file()
        if not exists and relative != TRUST_BUNDLES[0]:
            continue
        if target.is_symlink():  # dangling after resolution means it escapes nowhere useful
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        prefix = b"\n" if exists else b""
        _write(target, prefix + ca_pem, append=exists)
        seen.add(target)
        written.append(relative)
    return written


def _write(path: Path, data: bytes, append: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
