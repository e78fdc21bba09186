"""Which CPUs a run's sample and its tracer share.

Every traced system call stops the sample and wakes the tracer, and back. When the two sit on
different CPUs, each stop is a wake-up across CPUs; on a virtual machine whose other CPU is
idle that costs a halt and a resume of that CPU, and a syscall-heavy sample ran 3x slower on
a quiet 2-core machine than on a busy one (docs/benchmarks.md, "tracer overhead"). Sample and
tracer are pinned to the same CPUs: as many as the run's CPU quota needs, the ones the fewest
live runs use, so concurrent scans spread over the machine.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable


def available() -> list[int]:
    """The CPUs this process may run on (a container or taskset may allow fewer than all)."""
    return sorted(os.sched_getaffinity(0))


def place(quota: float, taken: Iterable[Iterable[int]], cpus: list[int]) -> list[int]:
    """`ceil(quota)` CPUs of `cpus` (all of them if fewer), the least used by the live runs'
    placements in `taken`, lowest number first among equals."""
    want = max(1, math.ceil(quota))
    if want >= len(cpus):
        return list(cpus)
    use = Counter(cpu for placement in taken for cpu in placement)
    return sorted(sorted(cpus, key=lambda cpu: (use[cpu], cpu))[:want])


def cpuset(cpus: list[int]) -> str:
    """The cgroup/OCI form of a CPU list: "0,2,3"."""
    return ",".join(str(cpu) for cpu in cpus)
