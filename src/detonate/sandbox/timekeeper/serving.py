"""Whether a process of the sample serves: it holds a TCP socket that listens.

A server's housekeeping looks like a countdown: memcached's clock ticks every second in its
event loop and its LRU maintainer and logger sleep 1 s rounds, with no effect between them. A
countdown's rounds are exempt from the keeper's horizon (a delay may be made of thousands of
them); a server's are not, or an idle cache would have its clock moved an hour, round by round,
before its run could end idle. Read from /proc, as the keeper reads the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"  # /proc/net/tcp's `st` of a listening socket
TABLES = ("tcp", "tcp6")


def listens(pid: int) -> bool:
    """Process `pid` has a listening TCP socket among its fds; False once it is gone."""
    listening = _listening_inodes(pid)
    if not listening:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:[") and link[8:-1] in listening:
            return True
    return False


def _listening_inodes(pid: int) -> set[str]:
    """The inodes of the listening sockets of the process's network namespace."""
    inodes: set[str] = set()
    for table in TABLES:
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6 in the namespace, or the process is gone
        for line in lines:
            # sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes
