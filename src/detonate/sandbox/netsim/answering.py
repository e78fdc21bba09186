"""Whether the simulated internet is still answering the sample, read from outside its process.

The time keeper jumps the sample's clock once every thread of the sample has been blocked for
a moment; a thread blocked on a reply that is still being made must not count as waiting for
time. On a busy machine the services can take far longer than that moment to answer a DNS
query or a TLS hello (they wait for a CPU like everyone else), and a jump then fires the
sample's own timeouts (`SO_RCVTIMEO`, `alarm`) before the reply lands.

The services answer a request from the moment it is in a socket of their namespace until they
wrote the reply: the request is unread (a receive queue, a connection not yet accepted or still
in its handshake), or their process is running or waiting for a CPU (state R) or for the disk
(D). A reply written is in the sample's socket at once (a veth), where it wakes the sample.
"""

from __future__ import annotations

from pathlib import Path

RUNNING_STATES = frozenset("RD")
SYN_RECV = "03"  # /proc/net/tcp's `st`: a handshake the listener has not completed
TABLES = ("tcp", "tcp6", "udp", "udp6")


def is_answering(pid: int) -> bool:
    """The services' process `pid` has a request of the sample's unread or is at work on one;
    False once the process is gone."""
    return _running(pid) or _unread(pid)


def _running(pid: int) -> bool:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            state = (task / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue  # a thread that ended meanwhile
        if state in RUNNING_STATES:
            return True
    return False


def _unread(pid: int) -> bool:
    """A socket of its namespace with bytes received and not read (for a listener: connections
    not accepted), or a connection still in its handshake."""
    for table in TABLES:
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6 in the namespace, or the process is gone
        for line in lines:
            # sl local_address rem_address st tx_queue:rx_queue …
            fields = line.split()
            if len(fields) < 5:
                continue
            rx_queue = fields[4].partition(":")[2]
            if fields[3] == SYN_RECV or (rx_queue and int(rx_queue, 16) > 0):
                return True
    return False
