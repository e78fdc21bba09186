"""Namespaces, the veth pair, routes and firewall rules of one run's simulated internet.

    sample netns                         simulator netns (detonate-sim-<owner>-<run>)
    eth0 10.a.b.2/30 ── veth ── sim0 10.a.b.1/30      no other interface, ip_forward=0
    default via 10.a.b.1                 nat: tcp → catch-all, udp 53 → DNS
    IPv6 off                             mangle: other udp → transparent sink
                                         raw: above N packets/s dropped (and counted)

The veth is created inside the simulator's namespace with its peer placed directly into the
sample's, so no end of it ever exists in the host's namespace, and nothing routes through the
host whatever its ip_forward says.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from detonate.errors import SandboxError
from detonate.sandbox.leftovers import is_alive, process_start_time
from detonate.sandbox.netsim import own_table

PREFIX = "detonate-sim-"
SIM_IF = "sim0"
SAMPLE_IF = "eth0"
CATCHALL_PORT = 1
DNS_PORT = 53
UDP_SINK_PORT = 2
TPROXY_MARK = "0x1/0x1"
TPROXY_TABLE = "100"
LINKS = ipaddress.ip_network("10.128.0.0/9")  # where each run's /30 is drawn from


@dataclass(frozen=True)
class Addressing:
    sim_ip: str
    sample_ip: str
    prefix: int = 30

    @classmethod
    def draw(cls) -> Addressing:
        """A random /30: namespaces keep runs apart anyway; a random one is not fingerprintable."""
        subnets = LINKS.num_addresses // 4
        base = int(LINKS.network_address) + 4 * secrets.randbelow(subnets)
        return cls(str(ipaddress.ip_address(base + 1)), str(ipaddress.ip_address(base + 2)))


def run(*command: str, check: bool = True, stdin: str = "") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=30, check=False
    )
    if check and done.returncode != 0:
        raise SandboxError(
            f"network setup failed: {' '.join(command)}: {done.stderr.strip()}",
            hint="the simulated internet needs root, iproute2 and iptables",
        )
    return done


def in_sim(
    namespace: str, *command: str, check: bool = True, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return run("ip", "netns", "exec", namespace, *command, check=check, stdin=stdin)


def in_sample(pid: int, *command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run("nsenter", f"--net=/proc/{pid}/ns/net", "--", *command, stdin=stdin)


def namespace_name(run_id: str) -> str:
    """`detonate-sim-<pid>-<start>-<run>`: the analyser that owns it (pid and start time, so a
    recycled pid does not pass for it), for `cleanup_orphans` to find it after a SIGKILL."""
    pid = os.getpid()
    return f"{PREFIX}{pid}-{process_start_time(pid)}-{run_id}"


def namespace_owner(namespace: str) -> tuple[int, int] | None:
    """(pid, start time) of the analyser named in `namespace`; None for any other name."""
    # "detonate-sim-4242-981234-3f2a9c1d"
    found = re.fullmatch(re.escape(PREFIX) + r"(\d+)-(\d+)-[0-9a-f]+", namespace)
    return (int(found[1]), int(found[2])) if found else None


# Each command is a process started on every run's critical path (a few ms each, tens on a
# busy node): what one `ip -batch`, `sysctl` or `iptables-restore` can do is done by one.


def ip_batch(namespace: str, *lines: str) -> None:
    """`ip` commands run in `namespace` by one `ip -batch`, stopping at the first failure."""
    run("ip", "-n", namespace, "-batch", "-", stdin="".join(line + "\n" for line in lines))


def create_namespace(namespace: str) -> None:
    own_table.add_namespace(namespace, run)  # with a small TCP table of its own
    ip_batch(namespace, "link set lo up")
    in_sim(namespace, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0",
           "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")  # fmt: skip


def firewall(namespace: str, packets_per_second: int) -> bool:
    """The redirects; returns whether the transparent UDP sink could be set up."""
    rules = (
        # above the limit, a packet is dropped before anything else sees it (counted here)
        "*raw",
        f"-A PREROUTING -i {SIM_IF} -m hashlimit --hashlimit-above {packets_per_second}/sec"
        f" --hashlimit-burst {2 * packets_per_second} --hashlimit-name detonate -j DROP",
        "COMMIT",
        "*nat",
        f"-A PREROUTING -i {SIM_IF} -p udp --dport 53 -j REDIRECT --to-ports {DNS_PORT}",
        f"-A PREROUTING -i {SIM_IF} -p tcp -j REDIRECT --to-ports {CATCHALL_PORT}",
        "COMMIT",
        "*filter",
        ":FORWARD DROP [0:0]",
        "COMMIT",
    )
    iptables_restore(namespace, rules)
    tproxy = (
        "*mangle",
        f"-A PREROUTING -i {SIM_IF} -p udp ! --dport 53 -j TPROXY --on-port {UDP_SINK_PORT}"
        f" --tproxy-mark {TPROXY_MARK}",
        "COMMIT",
    )
    if iptables_restore(namespace, tproxy, check=False):
        ip_batch(namespace, f"rule add fwmark {TPROXY_MARK} lookup {TPROXY_TABLE}",
                 f"route add local 0.0.0.0/0 dev lo table {TPROXY_TABLE}")  # fmt: skip
        return True
    # without TPROXY other UDP is dropped; the pcap and the counters still see it
    iptables_restore(
        namespace,
        ("*filter", f"-A INPUT -i {SIM_IF} -p udp ! --dport 53 -j DROP", "COMMIT"),
    )
    return False


def iptables_restore(namespace: str, rules: tuple[str, ...], check: bool = True) -> bool:
    """Appends `rules` (iptables-save format) in `namespace`, atomically per table."""
    script = "".join(line + "\n" for line in rules)
    done = in_sim(namespace, "iptables-restore", "-w", "--noflush", stdin=script, check=check)
    return done.returncode == 0


def wire(namespace: str, pid: int, addressing: Addressing, reply_kbit: int) -> None:
    """Joins the sample's namespace (of `pid`) to the simulator's."""
    if not Path(f"/proc/{pid}/ns/net").exists():
        raise SandboxError(f"no process {pid} to attach the simulated internet to")
    cidr = f"/{addressing.prefix}"
    ip_batch(
        namespace,
        f"link add {SIM_IF} type veth peer name {SAMPLE_IF} netns {pid}",
        f"addr add {addressing.sim_ip}{cidr} dev {SIM_IF}",
        f"link set {SIM_IF} up",
    )
    run("tc", "-n", namespace, "qdisc", "add", "dev", SIM_IF, "root", "tbf",
        "rate", f"{reply_kbit}kbit", "burst", "64kb", "latency", "200ms")  # fmt: skip
    in_sample(pid, "sysctl", "-q", "-w", *(f"net.ipv6.conf.{key}.disable_ipv6=1"
                                           for key in ("all", "default", SAMPLE_IF)))  # fmt: skip
    in_sample(pid, "ip", "-batch", "-", stdin=(
        "link set lo up\n"
        f"addr add {addressing.sample_ip}{cidr} dev {SAMPLE_IF}\n"
        f"link set {SAMPLE_IF} up\n"
        f"route add default via {addressing.sim_ip}\n"
    ))  # fmt: skip


def dropped_by_limit(namespace: str) -> int:
    # "    1234    56789 DROP  all  --  sim0  *  0.0.0.0/0  0.0.0.0/0  limit: above …"
    listing = in_sim(namespace, "iptables", "-w", "-t", "raw", "-L", "PREROUTING", "-v", "-x",
                     "-n", check=False).stdout  # fmt: skip
    for line in listing.splitlines():
        words = line.split()
        if len(words) > 2 and words[2] == "DROP" and words[0].isdigit():
            return int(words[0])
    return 0


def link_address(namespace: str, interface: str) -> str:
    shown = run("ip", "-n", namespace, "-o", "link", "show", interface, check=False).stdout
    found = re.search(r"link/ether ([0-9a-f:]{17})", shown)
    return found.group(1) if found else ""


def delete_namespace(namespace: str) -> None:
    """Kills what still runs in it and removes it (and with it the veth pair)."""
    listed = run("ip", "netns", "pids", namespace, check=False)
    for pid in listed.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    for _ in range(50):
        if run("ip", "netns", "del", namespace, check=False).returncode == 0:
            return
        if namespace not in list_namespaces():
            return
        time.sleep(0.1)


def list_namespaces(prefix: str = PREFIX) -> list[str]:
    # "detonate-sim-3f2a (id: 4)"
    listed = run("ip", "netns", "list", check=False).stdout
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    return [name for name in names if name.startswith(prefix)]


def cleanup_orphans(prefix: str = PREFIX) -> list[str]:
    """Removes the simulator namespaces (and what runs in them) whose analyser is dead; safe
    while other runs are live. Returns their names."""
    removed = []
    for namespace in list_namespaces(prefix):
        owner = namespace_owner(namespace)
        if owner is not None and not is_alive(*owner):
            delete_namespace(namespace)
            removed.append(namespace)
    return removed


def cleanup_leftovers(prefix: str = PREFIX) -> list[str]:
    """Removes every simulator namespace left by crashed runs; returns their names.

    Only for when no run is active on this machine: it cannot tell a leftover from a live one.
    """
    removed = []
    for namespace in list_namespaces(prefix):
        delete_namespace(namespace)
        removed.append(namespace)
    return removed
