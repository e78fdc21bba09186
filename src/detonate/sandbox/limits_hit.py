"""Which of the run's limits the sample ran into, read from the kernel's own counters at the
end of the run, so a report says why a bomb stopped ("memory", "pids", …) and not only that
the run ended.

    memory   the cgroup's OOM killer killed a process       memory.oom_control: oom_kill N
    pids     a fork or clone was refused at the pids limit  pids.events: max N
    cpu      the CPU quota throttled the sample             cpu.stat: nr_throttled N
    disk     the writable layer's tmpfs is full             statvfs of the upper dir
    inodes   the writable layer ran out of inodes           statvfs of the upper dir
    output   stdout/stderr filled their log                 statvfs of the log dir
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from detonate.sandbox.leftovers import CGROUP_ROOT

FULL_BELOW_BYTES = 64 * 1024  # a tmpfs with less free space than this is full


def cgroup_limits_hit(cgroup: str) -> list[str]:
    """Read before `runc delete` removes the cgroup."""
    name = cgroup.strip("/")
    hit = []
    if _counter(CGROUP_ROOT / "memory" / name / "memory.oom_control", "oom_kill"):
        hit.append("memory")
    if _counter(CGROUP_ROOT / "pids" / name / "pids.events", "max"):
        hit.append("pids")
    if _counter(CGROUP_ROOT / "cpu" / name / "cpu.stat", "nr_throttled"):
        hit.append("cpu")
    return hit


def filesystem_limits_hit(upper: Path, logs: Path) -> list[str]:
    """Read while the run's tmpfs mounts are still there."""
    hit = []
    with contextlib.suppress(OSError):
        disk = os.statvfs(upper)
        if disk.f_bavail * disk.f_frsize < FULL_BELOW_BYTES:
            hit.append("disk")
        if disk.f_files and disk.f_favail == 0:
            hit.append("inodes")
    with contextlib.suppress(OSError):
        log = os.statvfs(logs)
        if log.f_bavail * log.f_frsize < FULL_BELOW_BYTES:
            hit.append("output")
    return hit


def _counter(path: Path, key: str) -> int:
    # "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
    try:
        text = path.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == key and words[1].isdigit():
            return int(words[1])
    return 0
