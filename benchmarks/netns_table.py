"""What the time keeper pays to ask whether the simulated internet still answers: reading a
namespace's `/proc/<pid>/net/tcp{,6}` (answering.py), in a namespace made by plain
`ip netns add` (the host's shared TCP table) and in one made by `own_table.add_namespace` (a
table of its own). Prints medians and their ratio; asserts nothing. Needs root.

    sudo .venv/bin/python benchmarks/netns_table.py [--reads 200]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from detonate.sandbox.netsim import own_table, topology
from detonate.sandbox.netsim.answering import is_answering


@contextmanager
def namespace(own: bool) -> Iterator[int]:
    """A namespace with one sleeping process in it; yields that process's pid."""
    name = f"detonate-bench-{secrets.token_hex(3)}"
    if own:
        own_table.add_namespace(name, topology.run)
    else:
        topology.run("ip", "netns", "add", name)
    sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "600"])
    try:
        time.sleep(0.2)  # `ip netns exec` has exec'd sleep: its pid is the sleeper's
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()
        topology.run("ip", "netns", "del", name, check=False)


def median_ms(pid: int, reads: int) -> tuple[float, float]:
    """(one /proc/<pid>/net/tcp read, one whole is_answering look), median ms."""
    table, look = [], []
    for _ in range(reads):
        started = time.perf_counter()
        Path(f"/proc/{pid}/net/tcp").read_text()
        table.append(time.perf_counter() - started)
        started = time.perf_counter()
        is_answering(pid)
        look.append(time.perf_counter() - started)
    return statistics.median(table) * 1000, statistics.median(look) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=200)
    reads = parser.parse_args().reads
    buckets = Path("/proc/sys/net/ipv4/tcp_ehash_entries").read_text().strip()
    print(f"host TCP table: {buckets} buckets; own table: {own_table.BUCKETS} buckets")
    results = {}
    for own in (False, True):
        with namespace(own) as pid:
            results[own] = median_ms(pid, reads)
    for label, i in (("/proc/<pid>/net/tcp read", 0), ("is_answering look", 1)):
        shared, own_ms = results[False][i], results[True][i]
        print(f"{label:28} shared {shared:7.3f} ms   own {own_ms:7.3f} ms   "
              f"ratio {shared / own_ms:6.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
