"""A sample network namespace of our own, until tests run real containers: `ip netns add`
plus a sleeping process whose pid stands in for the container's init pid."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from detonate.sandbox.netsim import Simulator


def _can_run() -> str:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "iptables", "tcpdump", "nsenter"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return ""


needs_root = pytest.mark.skipif(bool(_can_run()), reason=_can_run() or "ok")


@dataclass
class SampleNetns:
    name: str
    pid: int

    def run(
        self, *command: str, timeout: float = 20, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin if stdin is not None else "",
        )

    def python(
        self, script: str, *args: str, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-c", script, *args, timeout=timeout)


@dataclass
class Wired:
    sim: Simulator
    netns: SampleNetns
    rootfs: Path


def host_addresses() -> list[str]:
    """The host's own IPv4 and global IPv6 addresses (not loopback, not link-local)."""
    shown = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True)
    # "2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0"
    addresses = [line.split()[3].split("/")[0] for line in shown.stdout.splitlines()]
    return [a for a in addresses if not a.startswith(("127.", "::1", "fe80:"))]


class HostListeners:
    """TCP and UDP listeners on 0.0.0.0 in the host's namespace, recording who arrived."""

    def __init__(self, tcp_port: int, udp_port: int) -> None:
        self.udp_port = udp_port
        self.arrived: list[str] = []
        self.tcp = socket.create_server(("0.0.0.0", tcp_port), reuse_port=False)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("0.0.0.0", udp_port))
        self.udp.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while not self.stop.is_set():
            for sock in (self.tcp, self.udp):
                try:
                    if sock is self.tcp:
                        conn, peer = sock.accept()
                        conn.close()
                    else:
                        _, peer = sock.recvfrom(2048)
                    self.arrived.append(str(peer))
                except TimeoutError:
                    continue

    def control(self) -> str:
        """Positive control: one datagram from the host itself, which must be heard (and
        captured); returns the peer it arrives as."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
            control.sendto(b"control", ("127.0.0.1", self.udp_port))
            peer = str(("127.0.0.1", control.getsockname()[1]))
        time.sleep(0.3)
        return peer

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.tcp.close()
        self.udp.close()


class HostCapture:
    """tcpdump on every interface of the host's namespace, for `bpf_filter`."""

    def __init__(self, path: Path, bpf_filter: str) -> None:
        self.path = path
        self.process = subprocess.Popen(
            ["tcpdump", "-i", "any", "-n", "-U", "-w", str(path), bpf_filter],
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # tcpdump needs a moment before it captures

    def stop(self) -> list[str]:
        """The captured packets, one line each."""
        time.sleep(0.5)
        self.process.terminate()
        self.process.wait()
        read = subprocess.run(["tcpdump", "-r", str(self.path), "-n"], capture_output=True,
                              text=True)  # fmt: skip
        assert read.returncode == 0, read.stderr
        return read.stdout.strip().splitlines()
