"""The services' side of the event stream: one JSON object per line, flushed per line.

    {"kind": "dns_queried", "ts": 1718000000.123, "src_ip": "10.77.3.2", …, "name": "pool.test"}

`ts` is wall-clock time; the simulator turns it into seconds since the run started.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import IO, Any


@dataclass
class Flow:
    """One conversation as the sample addressed it (dst = its original destination)."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    domain: str = ""
    transport: str = "tcp"
    tls: bool = False
    sni: str = ""
    announced: bool = False  # its `connected` event was written

    def fields(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "src_ip": self.src_ip,
            "src_port": self.src_port,
            "dst_ip": self.dst_ip,
            "dst_port": self.dst_port,
            "domain": self.domain,
        }


class Recorder:
    def __init__(self, out: IO[str], max_events: int) -> None:
        self._out = out
        self._max = max_events
        self.written = 0
        self.lost = 0

    def emit(
        self, kind: str, flow: Flow | None = None, ts: float | None = None, **fields: Any
    ) -> None:
        if self.written >= self._max:
            self.lost += 1
            return
        record: dict[str, Any] = {"kind": kind, "ts": time.time() if ts is None else ts}
        if flow is not None:
            record.update(flow.fields())
        record.update(fields)
        self._out.write(json.dumps(record, sort_keys=True) + "\n")
        self._out.flush()
        self.written += 1

    def close(self) -> None:
        if self.lost:
            self._out.write(json.dumps({"kind": "_lost", "ts": time.time(), "lost": self.lost}))
            self._out.write("\n")
        self._out.flush()


def preview(data: bytes, limit: int) -> str:
    """Bytes as text for the report: UTF-8 where it is, backslash escapes where it is not."""
    return data[:limit].decode("utf-8", "backslashreplace")
