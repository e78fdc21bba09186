"""The pcap of the simulator's end of the veth, size-capped, and what it says about volume.

tcpdump writes pcap to a pipe; a thread keeps the first `max_bytes` of it as the artifact and
keeps counting past the cap: packets from the sample per second and distinct destinations.
Capture taps see packets before the rate limit drops them, so the counts are what the sample
offered, not what got through.
"""

from __future__ import annotations

import struct
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GLOBAL_HEADER = 24
RECORD_HEADER = 16
MAX_DISTINCT = 65536
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD


@dataclass(frozen=True)
class Volume:
    packets: int = 0
    bytes_total: int = 0
    seconds: float = 0.0
    peak_pps: int = 0
    distinct_destinations: int = 0
    distinct_addresses: int = 0
    pcap_bytes: int = 0
    pcap_truncated: bool = False


READY_SECONDS = 5.0
FLUSH_SECONDS = 0.2


class Capture:
    def __init__(self, namespace: str, interface: str, sim_mac: str, pcap: Path, max_bytes: int):
        self._sim_mac = bytes.fromhex(sim_mac.replace(":", "")) if sim_mac else b""
        self._pcap = pcap
        self._max_bytes = max_bytes
        self._written = 0
        self._truncated = False
        self._packets = 0
        self._bytes = 0
        self._first = self._last = 0.0
        self._per_second: Counter[int] = Counter()
        self._destinations: set[tuple[str, int, int]] = set()
        self._addresses: set[str] = set()
        self._process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "tcpdump", "-i", interface, "-n", "-U", "-s",
             "65535", "-w", "-", "--immediate-mode"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self._capturing = threading.Event()
        self._thread = threading.Thread(target=self._read, name="netsim-capture", daemon=True)
        self._thread.start()
        # tcpdump writes the pcap header once the capture is active: packets the sample sends
        # right after `runc start` must not fall into its start-up gap.
        self._capturing.wait(READY_SECONDS)

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> Volume:
        try:
            # tcpdump ends by itself once the sample's namespace, and with it the veth, is gone;
            # until then the last packets of the run may still be on their way to it
            self._process.wait(FLUSH_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._thread.join(5)
        return Volume(
            packets=self._packets,
            bytes_total=self._bytes,
            seconds=round(self._last - self._first, 6) if self._packets else 0.0,
            peak_pps=max(self._per_second.values(), default=0),
            distinct_destinations=len(self._destinations),
            distinct_addresses=len(self._addresses),
            pcap_bytes=self._written,
            pcap_truncated=self._truncated,
        )

    def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        with open(self._pcap, "wb") as out:
            header = _read_exactly(stdout, GLOBAL_HEADER)
            self._capturing.set()
            if header is None:
                return
            self._keep(out, header)
            while True:
                record = _read_exactly(stdout, RECORD_HEADER)
                if record is None:
                    return
                seconds, micros, captured, _ = struct.unpack("<IIII", record)
                data = _read_exactly(stdout, captured)
                if data is None:
                    return
                self._keep(out, record + data)
                self._count(seconds + micros / 1e6, data)

    def _keep(self, out: IO[bytes], chunk: bytes) -> None:
        if self._truncated:
            return
        if self._written + len(chunk) > self._max_bytes:
            self._truncated = True
            return
        out.write(chunk)
        self._written += len(chunk)

    def _count(self, ts: float, frame: bytes) -> None:
        # Ethernet: dst mac (6), src mac (6), ethertype (2); frames from the sample's end only
        if len(frame) < 14 or frame[6:12] == self._sim_mac:
            return
        self._packets += 1
        self._bytes += len(frame)
        if not self._first:
            self._first = ts
        self._last = ts
        self._per_second[int(ts)] += 1
        (ethertype,) = struct.unpack("!H", frame[12:14])
        ip = frame[14:]
        if ethertype == ETH_IPV4 and len(ip) >= 20:
            header = (ip[0] & 0x0F) * 4
            proto, dst = ip[9], ".".join(str(b) for b in ip[16:20])
        elif ethertype == ETH_IPV6 and len(ip) >= 40:
            header, proto, dst = 40, ip[6], ip[24:40].hex()
        else:
            return
        port = 0
        if proto in (6, 17) and len(ip) >= header + 4:
            (port,) = struct.unpack("!H", ip[header + 2 : header + 4])
        if len(self._destinations) < MAX_DISTINCT:
            self._destinations.add((dst, proto, port))
        if len(self._addresses) < MAX_DISTINCT:
            self._addresses.add(dst)


def _read_exactly(stream: IO[bytes], count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data
