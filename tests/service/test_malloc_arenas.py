"""glibc's arenas are capped for the long-lived service (service/malloc_arenas.py): threads
that allocate at once share one arena instead of getting one each."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from detonate.service.malloc_arenas import cap_malloc_arenas

# Eight threads allocate at the same time and report the process's thread arenas while all
# are still alive: glibc gives each new thread an arena of its own until the cap.
WORKLOAD = textwrap.dedent(
    """
    import os, sys, threading
    from detonate.service.malloc_arenas import cap_malloc_arenas, thread_arenas
    if sys.argv[1] == "capped":
        assert cap_malloc_arenas()
    start, done = threading.Barrier(8), threading.Barrier(9)
    def work():
        start.wait()
        kept = [bytes(64 << 10) for _ in range(64)]  # malloc'd, below the mmap threshold
        done.wait()
        done.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    done.wait()
    print(len(thread_arenas(os.getpid())))
    done.wait()
    """
)


def thread_arenas_after_workload(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    out = subprocess.run(
        [sys.executable, "-c", WORKLOAD, mode], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_capped_threads_share_one_arena_where_uncapped_ones_get_their_own() -> None:
    assert thread_arenas_after_workload("uncapped") >= 2  # the workload does make arenas
    assert thread_arenas_after_workload("capped") <= 1


def test_an_operators_own_setting_is_left_alone() -> None:
    assert not cap_malloc_arenas(environ={"MALLOC_ARENA_MAX": "8"})
    assert not cap_malloc_arenas(environ={"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"})
