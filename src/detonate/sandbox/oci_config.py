"""The OCI runtime `config.json` of a run: the image as Docker would start it, locked down.

Namespaces pid, mount, ipc, uts, network, user and cgroup; container ids 0..65535 map onto
host CONTAINER_ID_BASE.. (the convention the unpacked rootfs is owned by), so container root is
an unprivileged host uid. Docker's default capabilities, no_new_privs, Docker's masked and
read-only /proc paths, a seccomp profile, memory/pids/CPU limits, no host mounts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detonate.errors import SandboxError
from detonate.model.image import ImageConfig
from detonate.model.options import CONTAINER_ID_BASE, CONTAINER_ID_COUNT, MiB, SandboxOptions
from detonate.sandbox.cpu_placement import cpuset
from detonate.sandbox.seccomp_profile import seccomp_profile

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOCKER_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/sys/fs/cgroup",  # runc leaves the tmpfs holding the v1 hierarchies writable
)
SHM_BYTES = 64 * MiB
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class ProcessSpec:
    args: tuple[str, ...]
    env: tuple[str, ...]
    uid: int
    gid: int
    cwd: str


def process_spec(config: ImageConfig, options: SandboxOptions, rootfs: Path) -> ProcessSpec:
    """Entrypoint + cmd, env, user and workdir as Docker combines them."""
    entrypoint = config.entrypoint if options.entrypoint is None else options.entrypoint
    cmd = config.cmd if options.cmd is None else options.cmd
    if options.entrypoint is not None and options.cmd is None:
        cmd = ()  # Docker: --entrypoint resets the image's CMD
    args = tuple(entrypoint) + tuple(cmd)
    if not args:
        raise SandboxError(
            "the image has neither an entrypoint nor a cmd: nothing to run",
            hint="pass --entrypoint or --cmd",
        )
    uid, gid, home = resolve_user(config.user, rootfs)
    env = _merge_env(config.env, options.env)
    names = {e.split("=", 1)[0] for e in env}
    defaults = {"PATH": DEFAULT_PATH, "HOME": home, "HOSTNAME": ""}
    env += tuple(f"{k}={v}" for k, v in defaults.items() if k not in names and v)
    return ProcessSpec(args, env, uid, gid, config.working_dir or "/")


def _merge_env(image_env: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for item in (*image_env, *extra):
        key, _, _ = item.partition("=")
        merged[key] = item
    return tuple(merged.values())


def resolve_user(user: str, rootfs: Path) -> tuple[int, int, str]:
    """Image `User` ("", "app", "1000", "app:staff", "1000:50") → (uid, gid, home).

    Names come from the image's own /etc/passwd and /etc/group (read without following
    symlinks out of the rootfs).
    """
    name, _, group = user.partition(":")
    passwd = _read_table(rootfs, "etc/passwd", columns=4)  # name:x:uid:gid[:gecos:home:shell]
    uid, gid, home = 0, 0, "/root"
    if name:
        row = next((r for r in passwd if name in (r[0], r[2])), None)
        if row is not None:
            uid, gid, home = _int(row[2]), _int(row[3]), row[5] if len(row) > 5 else "/"
        elif name.isdecimal():  # not isdigit(): int() refuses "²"
            uid, gid, home = int(name), int(name), "/"
        else:
            raise SandboxError(
                f"the image runs as user {name!r}, which its /etc/passwd does not define",
                hint="pass --entrypoint/--cmd with a user that exists, or fix the image",
            )
    if group:
        table = _read_table(rootfs, "etc/group", columns=3)  # name:x:gid[:members]
        row = next((r for r in table if group in (r[0], r[2])), None)
        if row is not None:
            gid = _int(row[2])
        elif group.isdecimal():
            gid = int(group)
        else:
            raise SandboxError(f"the image's group {group!r} is not in its /etc/group")
    if not (0 <= uid < CONTAINER_ID_COUNT and 0 <= gid < CONTAINER_ID_COUNT):
        raise SandboxError(f"user {user!r} is outside the mapped id range 0..65535")
    return uid, gid, home


def _read_table(rootfs: Path, relative: str, columns: int) -> list[list[str]]:
    """The rows of a passwd-style file that have at least `columns` fields."""
    path = rootfs
    for part in relative.split("/"):
        path = path / part
        if path.is_symlink():
            return []  # a link could point at the host's file: not ours to read
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    rows = [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]
    return [row for row in rows if len(row) >= columns]


def _int(text: str) -> int:
    return int(text) if text.isdecimal() else 0


def runtime_config(
    spec: ProcessSpec,
    options: SandboxOptions,
    cgroup_path: str,
    hostname: str = "",
    cpus: list[int] | None = None,
) -> dict[str, Any]:
    """The OCI runtime config; `cpus`: the CPUs to pin the sample to (cpu_placement), or
    wherever the kernel puts it."""
    cpu: dict[str, Any] = {"quota": int(options.cpus * CPU_PERIOD_US), "period": CPU_PERIOD_US}
    if cpus:
        cpu["cpus"] = cpuset(cpus)
    caps = list(DOCKER_CAPABILITIES)
    id_map = [{"containerID": 0, "hostID": CONTAINER_ID_BASE, "size": CONTAINER_ID_COUNT}]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": spec.uid, "gid": spec.gid},
            "args": list(spec.args),
            "env": list(spec.env),
            "cwd": spec.cwd,
            "capabilities": {
                "bounding": caps,
                "effective": caps if spec.uid == 0 else [],
                "permitted": caps if spec.uid == 0 else [],
                "inheritable": [],
                "ambient": [],
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}],
            "noNewPrivileges": True,
            "oomScoreAdj": 1000,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname or secrets.token_hex(6),
        "mounts": [
            {
                "destination": "/proc",
                "type": "proc",
                "source": "proc",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={SHM_BYTES}"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                # As Docker does: the container's own cgroups, read-only. Escape scripts find
                # the hierarchy they expect and their release_agent write fails on it.
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "uidMappings": id_map,
            "gidMappings": id_map,
            "namespaces": [
                {"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user", "cgroup")
            ],
            "cgroupsPath": cgroup_path,
            "resources": {
                "devices": [{"allow": False, "access": "rwm"}],
                "memory": {"limit": options.memory_bytes, "swap": options.memory_bytes},
                "pids": {"limit": options.pids},
                "cpu": cpu,
            },
            "seccomp": seccomp_profile(),
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
