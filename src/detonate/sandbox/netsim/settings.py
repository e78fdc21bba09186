"""What the analyser tells the services process (as JSON, in RUN_DIR/netsim/serve.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from detonate.sandbox.netsim.config import NetsimConfig


@dataclass(frozen=True)
class ServeSettings:
    sim_ip: str
    catchall_port: int
    dns_port: int
    udp_sink_port: int  # 0: no transparent UDP sink (other UDP is dropped by iptables)
    ca_cert: str
    ca_key: str
    events: str
    drop_privileges: bool = True
    # The container's own names and addresses ({"3f2a9c1d7e0b": "10.131.7.2"}): answered as
    # its /etc/hosts would answer them, never with a sinkhole, and not recorded as traffic.
    local_names: dict[str, str] = field(default_factory=dict)

    def to_json(self, config: NetsimConfig) -> str:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["config"] = {f.name: getattr(config, f.name) for f in fields(config)}
        return json.dumps(values, indent=1)

    @staticmethod
    def from_json(text: str) -> tuple[ServeSettings, NetsimConfig]:
        values: dict[str, Any] = json.loads(text)
        raw = values.pop("config")
        raw["nxdomain"] = tuple(raw["nxdomain"])
        raw["payloads"] = tuple(tuple(pair) for pair in raw["payloads"])
        return ServeSettings(**values), NetsimConfig(**raw)
