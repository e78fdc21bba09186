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

import contextlib
import errno
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
from detonate.sandbox.netsim.answering import is_answering
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
        self._names_told = False
        self._destination: Path | None = None  # where move_to() takes the directory
        self._stdout = b""  # what the services printed and was not read as a line yet
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
        started_ahead = self._serve is not None  # by a pool, before this run had a hostname
        self.hostname = hostname
        self.launch()  # the services start while runc creates the container; attach() waits
        if started_ahead and hostname:
            self._tell_local_names()
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

    def answering(self) -> bool:
        serve = self._serve  # `ip netns exec` execs: its pid is the services' process
        if serve is None or not self._attached or self._collected is not None:
            return False
        return is_answering(serve.pid)

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
        with contextlib.suppress(OSError):  # left where it waited, removed with its owner
            self._move()

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
            self._move()
        if self._names_told:
            self._expect("names", "did not take the container's names")
            self._names_told = False

    def alive(self) -> bool:
        """Its services still run (a simulator started ahead is checked before it is used)."""
        return not self._closed and self._serve is not None and self._serve.poll() is None

    def move_to(self, run_dir: Path) -> None:
        """For a simulator started ahead of its run: its dir becomes `run_dir/netsim`, now or
        once the services have read their files from it (when ready, or at close). One rename
        (open files follow it), so it raises OSError for another file system."""
        if os.stat(run_dir).st_dev != os.stat(self.directory).st_dev:
            raise OSError(errno.EXDEV, "the run's dir is on another file system", str(run_dir))
        self._destination = Path(run_dir) / "netsim"
        if self._ready:
            self._move()

    def _move(self) -> None:
        if self._destination is None:
            return
        home, self.directory = self.directory, self._destination
        os.rename(home, self.directory)
        with contextlib.suppress(OSError):
            home.parent.rmdir()  # where it waited (the pool's), when nothing else is in it
        self.events_path = self.directory / "events.jsonl"
        self.pcap_path = self.directory / "traffic.pcap"
        self.ca_path = self.directory / "ca.pem"
        self._destination = None

    def _tell_local_names(self) -> None:
        message = {"local_names": {self.hostname: self.addressing.sample_ip}}
        self._write_line(json.dumps(message))
        self._names_told = True  # start() waits for the answer, before the sample runs

    def launch(self) -> None:
        """Namespace, CA, and the services' process started, without waiting for it to be
        ready (idempotent; prepare() calls it, start() waits)."""
        if self._serve is not None:
            return
        if self._closed:
            raise SandboxError("the simulated internet of this run was already closed")
        try:
            self._launch()
        except BaseException:
            self.close()  # nothing half-made stays; a second launch() says it was closed
            raise

    def _launch(self) -> None:
        # In the order that lets the slow parts overlap: the services' interpreter starts as
        # soon as its namespace exists and imports (a fifth of a second) while the firewall is
        # set and the CA made (the leaf key is made on a thread since __init__); it reads its
        # settings, the first line of its stdin, once they are written.
        self.directory.mkdir(parents=True, exist_ok=True)
        topology.create_namespace(self.namespace)
        self._namespace_made = True
        log = open(self.directory / "serve.log", "wb")  # noqa: SIM115 - the child keeps it
        self._serve = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-m",
             "detonate.sandbox.netsim.serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )  # fmt: skip
        log.close()
        self.udp_sink = topology.firewall(self.namespace, self.config.packets_per_second)
        self._authority = CertificateAuthority.generate(self.run_id, self._leaf_key.result())
        key_path = self.directory / "ca.key"
        self._authority.save(self.ca_path, key_path)
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
        self._write_line(str(settings_path))

    def _write_line(self, line: str) -> None:
        assert self._serve is not None and self._serve.stdin is not None
        try:
            self._serve.stdin.write(line.encode() + b"\n")
            self._serve.stdin.flush()
        except OSError as exc:  # the services died: their log says why
            log = (self.directory / "serve.log").read_text(errors="replace")[-2000:]
            raise SandboxError(
                f"the simulated internet did not start: {exc}", hint=f"its log says: {log}"
            ) from None

    def _wait_ready(self) -> None:
        self._expect("ready", "did not start")

    def _expect(self, word: str, failure: str) -> None:
        if self._read_line(READY_SECONDS).strip() != word.encode():
            self.close()
            log = (self.directory / "serve.log").read_text(errors="replace")[-2000:]
            raise SandboxError(
                f"the simulated internet {failure}", hint=f"its log says: {log.strip()}"
            )

    def _read_line(self, timeout: float) -> bytes:
        """The services' next line on stdout; b"" at EOF or after `timeout` seconds."""
        assert self._serve is not None and self._serve.stdout is not None
        fd = self._serve.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._stdout:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return b""
            chunk = os.read(fd, 4096)
            if not chunk:
                return b""
            self._stdout += chunk
        line, _, self._stdout = self._stdout.partition(b"\n")
        return line

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
