"""Knobs of a scan. Every protective limit has a safe default; switching one off is `unsafe`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from detonate.model.image import Platform

GiB = 1024**3
MiB = 1024**2


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "detonate"


@dataclass(frozen=True)
class UnpackLimits:
    max_total_bytes: int = 16 * GiB  # bytes written for all layers together
    max_file_bytes: int = 4 * GiB  # one regular file
    max_files: int = 1_000_000  # tar entries over all layers
    max_ratio: int = 100  # uncompressed / compressed bytes of one layer (gzip bombs) …
    ratio_floor_bytes: int = 256 * MiB  # … checked only once a layer expanded past this
    max_layers: int = 256
    max_path_bytes: int = 4096


@dataclass(frozen=True)
class AcquireOptions:
    platform: Platform = field(default_factory=Platform)
    tls_verify: bool = True  # False for local registries with self-signed certs / plain HTTP
    auth_file: Path | None = None  # default: skopeo's search (containers-auth.json, docker config)
    # Secrets: never in a repr (options are logged and shown in errors). A per-scan pull
    # credential (Harbor's) replaces the auth file's for that scan only.
    creds: str = field(default="", repr=False)  # "user:password", for CI that has no auth file
    registry_token: str = field(default="", repr=False)  # a registry's Bearer token
    timeout_seconds: int = 600


@dataclass(frozen=True)
class StaticOptions:
    yara_max_file_bytes: int = 32 * MiB  # files larger than this are not YARA-scanned
    extra_rules_dir: Path | None = None
    results_cache: Path | None = None  # per-content results by sha256; None: kept for no scan


@dataclass(frozen=True)
class SandboxOptions:
    timeout_seconds: int = 60
    idle_seconds: int = 2  # every thread blocked, nothing due, this long: the run ends
    memory_bytes: int = 512 * MiB
    pids: int = 256
    cpus: float = 1.0
    disk_bytes: int = 1 * GiB
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    tracer: str = "strace"  # sandbox/tracing: TRACERS names the choices
    # Docker-style "SRC:DST[:ro]" host binds a deployment asked for. Served from a fake host
    # tree the sandbox builds per run (sandbox/fake_host.py): a real host path is never bound.
    binds: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanOptions:
    cache_dir: Path = field(default_factory=default_cache_dir)
    static_only: bool = False
    artifacts_dir: Path | None = None  # keep the run's trace, output and dropped files here
    ignore_file: Path | None = None  # suppressions (.detonateignore format)
    acquire: AcquireOptions = field(default_factory=AcquireOptions)
    unpack: UnpackLimits = field(default_factory=UnpackLimits)
    static: StaticOptions = field(default_factory=StaticOptions)
    sandbox: SandboxOptions = field(default_factory=SandboxOptions)
    # After each scan the cache is pruned to this size, least recently used first (0: never).
    cache_max_bytes: int = 20 * GiB


# Ownership convention between unpack and sandbox: a file owned by uid U (gid G) in the image is
# owned by CONTAINER_ID_BASE + U (+ G) on disk, and the sandbox's user namespace maps container
# ids 0..CONTAINER_ID_COUNT-1 onto exactly that range. Container root is never host root, and the
# cached rootfs needs no chown per run. Ids outside the range land on the image's "nobody".
CONTAINER_ID_BASE = 100_000
CONTAINER_ID_COUNT = 65_536
