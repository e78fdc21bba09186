"""UDP other than DNS: every datagram counted per flow and sunk, the first bytes kept.

iptables TPROXY hands datagrams for any address and port to one transparent socket; the
original destination comes with each datagram (IP_RECVORIGDSTADDR).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass

from detonate.sandbox.netsim.names import NameBook
from detonate.sandbox.netsim.recorder import Flow, Recorder, preview

IP_TRANSPARENT = 19
IP_RECVORIGDSTADDR = 20
MAX_FLOWS = 4096


@dataclass
class _Tally:
    first_ts: float
    datagrams: int
    bytes_total: int
    first: bytes


def transparent_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    sock.setsockopt(socket.SOL_IP, IP_RECVORIGDSTADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("0.0.0.0", port))
    sock.setblocking(False)
    return sock


class DatagramSink:
    def __init__(self, sock: socket.socket, names: NameBook, recorder: Recorder, keep: int) -> None:
        self._sock = sock
        self._names = names
        self._recorder = recorder
        self._keep = keep
        self._flows: dict[tuple[str, int, str, int], _Tally] = {}
        self.overflow = 0

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._drain)

    def _drain(self) -> None:
        for _ in range(256):
            try:
                data, ancillary, _, source = self._sock.recvmsg(self._keep, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            dst_ip, dst_port = "", 0
            for level, kind, value in ancillary:
                if level == socket.SOL_IP and kind == IP_RECVORIGDSTADDR and len(value) >= 8:
                    dst_port, raw = struct.unpack("!2xH4s", value[:8])
                    dst_ip = socket.inet_ntoa(raw)
            key = (source[0], source[1], dst_ip, dst_port)
            tally = self._flows.get(key)
            if tally is None:
                if len(self._flows) >= MAX_FLOWS:
                    self.overflow += 1
                    continue
                tally = self._flows[key] = _Tally(time.time(), 0, 0, data)
            tally.datagrams += 1
            tally.bytes_total += len(data)

    def flush(self) -> None:
        asyncio.get_running_loop().remove_reader(self._sock.fileno())
        for (src_ip, src_port, dst_ip, dst_port), tally in self._flows.items():
            flow = Flow(src_ip, src_port, dst_ip, dst_port, self._names.name_of(dst_ip), "udp")
            self._recorder.emit(
                "datagram_sunk",
                flow,
                ts=tally.first_ts,
                datagrams=tally.datagrams,
                bytes_total=tally.bytes_total,
                preview=preview(tally.first, self._keep),
            )
        self._flows.clear()
