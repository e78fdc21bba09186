"""glibc's malloc arenas in a long-lived service: capped, so memory levels off.

Every scan runs on new threads (the content pass, the layer prefetch, …), and glibc gives each
new thread its own arena, up to 8 per core; each keeps and fragments what it once held, so
`detonate serve`'s RSS rose ~2.6 MiB per 100 scans without levelling off over 700 scans, and
with two arenas it levelled off after 150 (docs/benchmarks.md, issue 14). `mallopt` sets the
same cap as `MALLOC_ARENA_MAX=2` would, from inside the process: only arenas made after the
call are capped, so it runs before the service starts any thread.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping
from pathlib import Path

M_ARENA_MAX = -8  # glibc's malloc.h
SERVICE_ARENAS = 2  # the main arena and one shared by every thread
ARENA_BYTES = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: a thread arena's reserved span


def cap_malloc_arenas(limit: int = SERVICE_ARENAS, environ: Mapping[str, str] = os.environ) -> bool:
    """Cap glibc's arenas unless the operator chose (MALLOC_ARENA_MAX or a malloc tunable, which
    glibc read at start). False where there is nothing to cap (not glibc, e.g. musl)."""
    if "MALLOC_ARENA_MAX" in environ or "glibc.malloc.arena_max" in environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_ARENA_MAX, limit) == 1)


def thread_arenas(pid: int) -> list[int]:
    """Resident KiB of each glibc thread arena of `pid` (from /proc/PID/smaps): an anonymous
    mapping at a 64 MiB boundary, read-write up to its top and the rest of its 64 MiB reserved
    (---p). Memory freed into an arena stays resident until its top is free."""
    maps: list[tuple[int, int, str, str, int]] = []  # start, end, perms, name, Rss KiB
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        words = line.split()
        if "-" in words[0] and len(words) >= 5 and ":" in words[3]:
            start, end = (int(x, 16) for x in words[0].split("-"))
            maps.append((start, end, words[1], words[5] if len(words) > 5 else "", 0))
        elif words[0] == "Rss:" and maps:
            start, end, perms, name, _ = maps[-1]
            maps[-1] = (start, end, perms, name, int(words[1]))
    arenas = []
    for (start, end, perms, name, rss), after in zip(maps, [*maps[1:], None], strict=True):
        if name or perms != "rw-p" or start % ARENA_BYTES:
            continue
        reserved = after is not None and after[0] == end and after[2] == "---p" and not after[3]
        if end - start == ARENA_BYTES or (
            reserved and after is not None and after[1] - start == ARENA_BYTES
        ):
            arenas.append(rss)
    return arenas
