"""`Simulator`: the sandbox's `NetworkHook` that gives a run its own simulated internet.

    sim = Simulator(run_dir, NetsimConfig())
    sim.prepare(rootfs)      # services starting; resolv.conf and the run's CA in the rootfs
    sim.attach(init_pid)     # veth into the container's netns, routes, pcap; services ready
    …                        # runc start … the sample runs …
    events = sim.collect()   # services stopped, events read (pid 0, ts relative to `origin`)
    sim.close()              # always: processes killed, namespace (and veth) removed

Artifacts in RUN_DIR/netsim/: events.jsonl, traffic.pcap, ca.pem, serve.log.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from detonate.errors import SandboxError
from detonate.model.events import Event
from detonate.model.netevents import NET_EVENT_KINDS, TrafficMeasured
from detonate.sandbox.netsim import rootfs_files, topology
from detonate.sandbox.netsim.authority import CertificateAuthority
from detonate.sandbox.netsim.capture import Capture, Volume
from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.settings import ServeSettings

READY_SECONDS = 30.0  # a busy node (a fleet worker beside other scans) starts it slowly


class Simulator:
    def __init__(self, run_dir: Path, config: NetsimConfig | None = None) -> None:
        self.config = config or NetsimConfig()
        self.directory = Path(run_dir) / "netsim"
        self.run_id = secrets.token_hex(4)
        self.namespace = topology.namespace_name(self.run_id)
        self.addressing = topology.Addressing.draw()
        self.origin = time.time()  # ts 0 of the events; reset by attach(), settable by the caller
        self.events_path = self.directory / "events.jsonl"
        self.pcap_path = self.directory / "traffic.pcap"
        self.ca_path = self.directory / "ca.pem"
        self.lost_events = 0
        self.udp_sink = False
        self.hostname = ""  # the container's; set by prepare() before the services start
        self._authority: CertificateAuthority | None = None
        self._serve: subprocess.Popen[bytes] | None = None
        self._capture: Capture | None = None
        self._volume: Volume | None = None
        self._namespace_made = False
        self._ready = False
        self._attached = False
        self._collected: tuple[Event, ...] | None = None
        self._closed = False
        # The TLS leaf key takes the longest of the services' start-up; it is made here, while
        # the sandbox prepares the container (key generation runs outside the GIL).
        self._leaf_key: Future[rsa.RSAPrivateKey] = Future()
        threading.Thread(target=self._make_leaf_key, name="netsim-leaf-key", daemon=True).start()

    def _make_leaf_key(self) -> None:
        try:
            self._leaf_key.set_result(CertificateAuthority.new_leaf_key())
        except BaseException as exc:  # handed to launch(), which raises it there
            self._leaf_key.set_exception(exc)

    # -- NetworkHook ------------------------------------------------------------------------

    @property
    def container_address(self) -> str:
        return self.addressing.sample_ip

    def prepare(self, rootfs: Path, hostname: str = "") -> None:
        self.hostname = hostname
        self.launch()  # the services start while runc creates the container; attach() waits
        assert self._authority is not None
        rootfs_files.write_resolv_conf(rootfs, self.addressing.sim_ip)
        rootfs_files.add_trust_anchor(rootfs, self._authority.cert_pem)

    def attach(self, init_pid: int) -> None:
        self.launch()
        topology.wire(self.namespace, init_pid, self.addressing, self.config.reply_kbit)
        self._attached = True
        mac = topology.link_address(self.namespace, topology.SIM_IF)
        self._capture = Capture(
            self.namespace, topology.SIM_IF, mac, self.pcap_path, self.config.pcap_max_bytes
        )
        self.start()  # the services answer before the sample can send its first packet
        self.origin = time.time()

    def collect(self, origin: float | None = None) -> tuple[Event, ...]:
        if self._collected is None:
            self._volume = self._capture.stop() if self._capture is not None else None
            self._stop_services()
            self._collected = self._read_events(self.origin if origin is None else origin)
        return self._collected

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._capture is not None:
            self._capture.stop()
        if self._serve is not None and self._serve.poll() is None:
            self._serve.kill()
            self._serve.wait()
        if self._namespace_made:
            topology.delete_namespace(self.namespace)
        # a run that ended before its services were ready leaves no CA key among its artifacts
        (self.directory / "ca.key").unlink(missing_ok=True)

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the parts ----------------------------------------------------------------------------

    @property
    def sim_ip(self) -> str:
        """The simulator's address: the sample's gateway and DNS server."""
        return self.addressing.sim_ip

    @property
    def ca_pem(self) -> bytes:
        self.start()
        assert self._authority is not None
        return self._authority.cert_pem

    def start(self) -> None:
        """Namespace, CA and services, ready to answer (idempotent; attach() calls it)."""
        self.launch()
        if not self._ready:
            self._wait_ready()
            self._ready = True
            (self.directory / "ca.key").unlink()  # the services hold it in memory now

    def launch(self) -> None:
        """Namespace, CA, and the services' process started, without waiting for it to be
        ready (idempotent; prepare() calls it, start() waits)."""
        if self._serve is not None:
            return
        if self._closed:
            raise SandboxError("the simulated internet of this run was already closed")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._authority = CertificateAuthority.generate(self.run_id, self._leaf_key.result())
        key_path = self.directory / "ca.key"
        self._authority.save(self.ca_path, key_path)
        topology.create_namespace(self.namespace)
        self._namespace_made = True
        self.udp_sink = topology.firewall(self.namespace, self.config.packets_per_second)
        self.events_path.touch()
        settings = ServeSettings(
            sim_ip=self.addressing.sim_ip,
            catchall_port=topology.CATCHALL_PORT,
            dns_port=topology.DNS_PORT,
            udp_sink_port=topology.UDP_SINK_PORT if self.udp_sink else 0,
            ca_cert=str(self.ca_path),
            ca_key=str(key_path),
            events=str(self.events_path),
            local_names={self.hostname: self.addressing.sample_ip} if self.hostname else {},
        )
        settings_path = self.directory / "serve.json"
        settings_path.write_text(settings.to_json(self.config))
        log = open(self.directory / "serve.log", "wb")  # noqa: SIM115 - the child keeps it
        self._serve = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-m",
             "detonate.sandbox.netsim.serve", str(settings_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )  # fmt: skip
        log.close()

    def _wait_ready(self) -> None:
        assert self._serve is not None and self._serve.stdout is not None
        ready, _, _ = select.select([self._serve.stdout], [], [], READY_SECONDS)
        line = self._serve.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.close()
            log = (self.directory / "serve.log").read_text(errors="replace")[-2000:]
            raise SandboxError(
                "the simulated internet did not start", hint=f"its log says: {log.strip()}"
            )

    def _stop_services(self) -> None:
        if self._serve is None or self._serve.poll() is not None:
            return
        assert self._serve.stdin is not None
        self._serve.stdin.close()  # EOF: end every conversation, write summaries, exit
        try:
            self._serve.wait(10)
        except subprocess.TimeoutExpired:
            self._serve.kill()
            self._serve.wait()

    def _read_events(self, origin: float) -> tuple[Event, ...]:
        records: list[dict[str, Any]] = []
        if self.events_path.exists():
            for line in self.events_path.read_text(errors="replace").splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a line cut short by a kill
        records.sort(key=lambda record: record.get("ts", 0.0))
        events: list[Event] = []
        for record in records:
            kind = record.pop("kind", "")
            if kind == "_lost":
                self.lost_events += int(record.get("lost", 0))
                continue
            cls = NET_EVENT_KINDS.get(kind)
            if cls is None:
                continue
            fields = {key: _frozen(value) for key, value in record.items()}
            fields["ts"] = round(float(fields.get("ts", origin)) - origin, 6)
            events.append(cls(seq=len(events), pid=0, **fields))
        if self._volume is not None:
            volume = self._volume
            dropped = topology.dropped_by_limit(self.namespace) if self._namespace_made else 0
            events.append(
                TrafficMeasured(
                    seq=len(events),
                    ts=round(time.time() - origin, 6),
                    pid=0,
                    packets=volume.packets,
                    bytes_total=volume.bytes_total,
                    seconds=volume.seconds,
                    peak_pps=volume.peak_pps,
                    distinct_destinations=volume.distinct_destinations,
                    distinct_addresses=volume.distinct_addresses,
                    dropped_by_limit=dropped,
                    pcap_bytes=volume.pcap_bytes,
                    pcap_truncated=volume.pcap_truncated,
                )
            )
        return tuple(events)


def _frozen(value: Any) -> Any:
    # JSON lists become tuples, as the frozen event records declare them
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value
