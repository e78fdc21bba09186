"""Simulated internet benchmarks: prints medians and ratios, asserts nothing. Needs root.

    python benchmarks/netsim_bench.py

1. connection setup through the catch-all vs a direct loopback connect (inside the sample's
   namespace both, so only the path differs), and a full HTTP request through it;
2. DNS answers per second (one client, one query in flight, and 64 in flight);
3. connections held at once (each one a stratum login answered while all stay open);
4. the simulator's CPU while the sample floods UDP for a few seconds, and what was measured.
"""

from __future__ import annotations

import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from detonate.model.netevents import TrafficMeasured
from detonate.sandbox.netsim import NetsimConfig, Simulator

CONNECT = """
import socket, statistics, time, json
def timed(address, n=300):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        s = socket.create_connection(address, timeout=5)
        samples.append(time.perf_counter() - t)
        s.close()
    return statistics.median(samples)
listener = socket.create_server(("127.0.0.1", 0), backlog=512)
loop = timed(listener.getsockname())
catchall = timed(("198.51.100.1", 8080))
requests = []
for _ in range(200):
    t = time.perf_counter()
    s = socket.create_connection(("198.51.100.1", 80), timeout=5)
    s.sendall(b"GET /x.html HTTP/1.0\\r\\nHost: b.test\\r\\n\\r\\n")
    while s.recv(65536):
        pass
    requests.append(time.perf_counter() - t)
    s.close()
print(json.dumps({"loopback": loop, "catchall": catchall, "http": statistics.median(requests)}))
"""

DNS = """
import socket, time, json, sys
from dnslib import DNSRecord
server = (sys.argv[1], 53)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
n, t = 2000, time.perf_counter()
for i in range(n):
    s.sendto(DNSRecord.question(f"n{i % 500}.bench.test").pack(), server); s.recv(512)
serial = n / (time.perf_counter() - t)
while True:
    try:
        s.settimeout(0.2); s.recv(512)
    except TimeoutError:
        break
s.settimeout(2)
n, window, answered, t = 4000, 64, 0, time.perf_counter()
for start in range(0, n, window):
    for i in range(start, start + window):
        s.sendto(DNSRecord.question(f"w{i}.bench.test").pack(), server)
    for _ in range(window):
        try:
            s.recv(512); answered += 1
        except TimeoutError:
            break
print(json.dumps({"serial_qps": serial, "window64_qps": answered / (time.perf_counter() - t),
                  "answered": min(answered, n), "sent": n}))
"""

HELD = """
import socket, time, json, sys
n = int(sys.argv[1]); held = []; t = time.perf_counter()
login = b'{"id":1,"method":"login","params":{"login":"4BENCH.w","pass":"x","algo":["rx/0"]}}\\n'
for i in range(n):
    s = socket.create_connection((f"198.51.100.{1 + i % 200}", 3333), timeout=10)
    s.sendall(login); held.append(s)
answered = sum(1 for s in held if b'"status": "OK"' in s.recv(4096))
print(json.dumps({"opened": n, "answered_while_all_open": answered,
                  "seconds": time.perf_counter() - t}))
"""

FLOOD = """
import socket, time, json, sys
seconds = float(sys.argv[1]); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent, t, payload = 0, time.perf_counter(), b"x" * 64
while time.perf_counter() - t < seconds:
    for i in range(256):
        try:
            s.sendto(payload, (f"203.0.113.{i}", 1000 + sent % 50))
        except OSError:
            pass
        sent += 1
print(json.dumps({"sent": sent, "seconds": seconds}))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def main() -> None:
    name = f"detonate-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "600"])
    time.sleep(0.1)

    def inside(script: str, *args: str) -> dict:
        done = subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c", script, *args],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        if done.returncode:
            raise SystemExit(done.stderr)
        return json.loads(done.stdout)

    try:
        with tempfile.TemporaryDirectory() as run_dir:
            config = NetsimConfig(max_connections=4096, idle_seconds=60)
            sim = Simulator(Path(run_dir), config)
            t = time.perf_counter()
            sim.start()
            started = time.perf_counter() - t
            sim.attach(sleeper.pid)
            print(f"simulator start (namespace, CA, services): {started * 1000:.0f} ms")
            c = inside(CONNECT)
            print(f"connect median: loopback {c['loopback'] * 1e6:.0f} µs, catch-all "
                  f"{c['catchall'] * 1e6:.0f} µs, ratio {c['catchall'] / c['loopback']:.2f}; "
                  f"full HTTP request through the catch-all {c['http'] * 1e3:.2f} ms")  # fmt: skip
            d = inside(DNS, sim.sim_ip)
            print(
                f"DNS: {d['serial_qps']:.0f} answers/s one in flight, "
                f"{d['window64_qps']:.0f} answers/s 64 in flight ({d['answered']}/{d['sent']})"
            )
            assert sim._serve is not None
            serve_pid = sim._serve.pid  # `ip netns exec` execs python: same pid
            assert sim._capture is not None
            tcpdump_pid = sim._capture.pid
            h = inside(HELD, "1000")
            rss = Path(f"/proc/{serve_pid}/status").read_text().split("VmRSS:")[1].split()[0]
            print(
                f"held: {h['answered_while_all_open']}/{h['opened']} stratum logins answered "
                f"with all open, {h['seconds']:.2f} s, simulator RSS {int(rss) / 1024:.0f} MiB"
            )
            before = cpu_seconds(serve_pid)
            before_dump = cpu_seconds(tcpdump_pid)
            before_self = resource.getrusage(resource.RUSAGE_SELF)
            flood_seconds = 3.0
            f = inside(FLOOD, str(flood_seconds))
            used = cpu_seconds(serve_pid) - before
            dump = cpu_seconds(tcpdump_pid) - before_dump
            after_self = resource.getrusage(resource.RUSAGE_SELF)
            reader = (after_self.ru_utime + after_self.ru_stime) - (
                before_self.ru_utime + before_self.ru_stime
            )
            events = sim.collect()
            traffic = next(e for e in events if isinstance(e, TrafficMeasured))
            print(f"flood: sample sent {f['sent'] / flood_seconds:.0f} datagrams/s for "
                  f"{flood_seconds:.0f} s; simulator CPU {used / flood_seconds * 100:.0f} % of a "
                  f"core; measured peak {traffic.peak_pps} pkt/s, "
                  f"{traffic.distinct_destinations} destinations, {traffic.dropped_by_limit} "
                  f"dropped by the limit, pcap {traffic.pcap_bytes / 1e6:.1f} MB"
                  f"{' (capped)' if traffic.pcap_truncated else ''}; tcpdump CPU "
                  f"{dump / flood_seconds * 100:.0f} %, pcap reader thread "
                  f"{reader / flood_seconds * 100:.0f} %")  # fmt: skip
            sim.close()
    finally:
        sleeper.kill()
        subprocess.run(["ip", "netns", "del", name], check=False)


if __name__ == "__main__":
    main()
