"""Network service discovery: many distinct destinations or ports within a short window.

Destinations come from connect() attempts the tracer saw (failed ones count: a refused port is
a scanned port) and flows the simulated internet received. The Docker API, kubelet,
kube-apiserver, Redis and SSH ports are what container worms look for: a sweep of many hosts
(addresses, or names the sample resolved) on two or more of them is worm propagation
(critical); a scan that seeks one of them is high; any other scan, such as many ports of one
host, is medium.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.findings import Evidence, Finding, Severity
from detonate.model.netevents import Connected, DatagramSunk, TrafficMeasured

NAME = "network-scan"
WINDOW_SECONDS = 60.0
MIN_DESTINATIONS = 20  # distinct (address, port) pairs in one window
MIN_PORTS_ONE_HOST = 10
MIN_LOCAL_PORTS = 20  # of the container's own host: more than its own services
MIN_HOSTS_PROPAGATION = 5  # distinct hosts tried on the ports below
MIN_PORTS_PROPAGATION = 2  # … on at least this many of them: a worm's sweep (critical)
PROPAGATION_PORTS = {
    2375: "Docker API",
    2376: "Docker API (TLS)",
    6443: "kube-apiserver",
    10250: "kubelet",
    6379: "Redis",
    22: "SSH",
}
MIN_MEASURED_DESTINATIONS = 100  # raw-socket scans never call connect()
DNS_PORT = 53


class NetworkScan:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        attempts = _attempts(index)
        window = _busiest_window(attempts)
        if window:
            return (_finding(index, window),)
        local = _local_port_scan(index)
        if local:
            return (_finding(index, local, local_scan=True),)
        measured = [e for e in run.events if isinstance(e, TrafficMeasured)]
        if measured and measured[-1].distinct_destinations >= MIN_MEASURED_DESTINATIONS:
            traffic = measured[-1]
            evidence = Evidence(
                description=f"{traffic.distinct_destinations} distinct destinations on "
                f"{traffic.distinct_addresses} addresses in {traffic.seconds:g} s of traffic",
                event_ids=(traffic.seq,),
            )
            return (finding("network-service-scan", NAME, [evidence], severity=Severity.MEDIUM),)
        return ()


# (ts, seq, pid, address, port)
Attempt = tuple[float, int, int, str, int]


def _attempts(index: RunIndex) -> list[Attempt]:
    out: list[Attempt] = [
        (c.ts, c.seq, c.pid, c.address, c.port)
        for c in index.connections
        if c.port != DNS_PORT and not index.is_local(c.address)
    ]
    for event in index.net_events:
        flow = isinstance(event, (Connected, DatagramSunk)) and event.dst_port != DNS_PORT
        if flow and event.dst_ip and not index.is_local(event.dst_ip):
            out.append((event.ts, event.seq, event.pid, event.dst_ip, event.dst_port))
    out.sort()
    return out


def _local_port_scan(index: RunIndex) -> list[Attempt]:
    """Many ports of the container's own host (loopback, its own address) tried within a
    window: what runs there, looked for before an attack on it (a Redis or Docker API bound to
    localhost). A readiness gate waits on the few ports it needs, again and again, a supervisor
    checks its own ten services; a scan tries MIN_LOCAL_PORTS or more, refused ones too."""
    attempts = sorted(
        (c.ts, c.seq, c.pid, c.address, c.port)
        for c in index.connections
        if c.port not in (0, DNS_PORT)
        and c.family in ("AF_INET", "AF_INET6")
        and index.is_local(c.address)
    )
    ports: dict[str, Counter[int]] = defaultdict(Counter)
    start = 0
    for ts, _, _, address, port in attempts:
        ports[address][port] += 1
        while ts - attempts[start][0] > WINDOW_SECONDS:
            old = attempts[start]
            ports[old[3]][old[4]] -= 1
            if ports[old[3]][old[4]] <= 0:
                del ports[old[3]][old[4]]
            start += 1
        if len(ports[address]) >= MIN_LOCAL_PORTS:
            return [a for a in attempts[start:] if a[0] - attempts[start][0] <= WINDOW_SECONDS]
    return []


def _busiest_window(attempts: list[Attempt]) -> list[Attempt]:
    """The first window that looks like a scan, as its attempts; [] when none does."""
    counts: Counter[tuple[str, int]] = Counter()
    ports_per_host: dict[str, Counter[int]] = defaultdict(Counter)
    propagation: Counter[str] = Counter()  # hosts tried on a propagation port
    start = 0
    for ts, _, _, address, port in attempts:
        _count(counts, ports_per_host, propagation, address, port, +1)
        while ts - attempts[start][0] > WINDOW_SECONDS:
            _, _, _, old_address, old_port = attempts[start]
            _count(counts, ports_per_host, propagation, old_address, old_port, -1)
            start += 1
        if (
            len(counts) >= MIN_DESTINATIONS
            or len(ports_per_host[address]) >= MIN_PORTS_ONE_HOST
            or len(propagation) >= MIN_HOSTS_PROPAGATION
        ):
            # the whole window from its start: everything the scan tried
            return [a for a in attempts[start:] if a[0] - attempts[start][0] <= WINDOW_SECONDS]
    return []


def _count(
    counts: Counter[tuple[str, int]],
    ports_per_host: dict[str, Counter[int]],
    propagation: Counter[str],
    address: str,
    port: int,
    step: int,
) -> None:
    counts[(address, port)] += step
    if counts[(address, port)] <= 0:
        del counts[(address, port)]
    ports_per_host[address][port] += step
    if ports_per_host[address][port] <= 0:
        del ports_per_host[address][port]
    if port in PROPAGATION_PORTS:
        propagation[address] += step
        if propagation[address] <= 0:
            del propagation[address]


def _finding(index: RunIndex, window: list[Attempt], local_scan: bool = False) -> Finding:
    destinations = {(a[3], a[4]) for a in window}
    hosts = {a[3] for a in window}
    ports = Counter(port for _, port in destinations)
    services = sorted(f"{PROPAGATION_PORTS[p]} ({p})" for p in ports if p in PROPAGATION_PORTS)
    seconds = window[-1][0] - window[0][0]
    pids = Counter(a[2] for a in window if a[2])
    scanner = pids.most_common(1)[0][0] if pids else 0
    swept = _propagation_sweep(index, window)
    evidence = [
        Evidence(
            description=f"{len(destinations)} destinations on {len(hosts)} hosts and "
            f"{len(ports)} ports in {seconds:.1f} s"
            + (f"; services sought: {', '.join(services)}" if services else "")
            + (f"; {swept} hosts tried on these services" if swept else ""),
            event_ids=tuple(a[1] for a in window[:50]),
            process=index.chain(scanner, window[0][1]) if scanner else (),
            excerpt=", ".join(
                index.destination(address, port) for address, port in sorted(destinations)[:40]
            ),
        )
    ]
    if swept:
        severity: Severity | None = Severity.CRITICAL
    elif local_scan:  # its own host: looking around, what it does next decides
        severity = Severity.MEDIUM
    elif services:
        severity = None  # the rule's own: high
    else:
        severity = Severity.MEDIUM
    return finding("network-service-scan", NAME, evidence, severity=severity)


def _propagation_sweep(index: RunIndex, window: list[Attempt]) -> int:
    """How many hosts were tried on a propagation port, when they are many and the ports two or
    more (a worm looking for its next victims); 0 otherwise. A host is an address or the name
    the sample resolved: several names may lead to one address."""
    hosts: set[str] = set()
    ports: set[int] = set()
    for _, _, _, address, port in window:
        if port in PROPAGATION_PORTS:
            hosts.add(index.name_for(address) or address)
            ports.add(port)
    start, end = window[0][0], window[-1][0]
    for event in index.net_events:
        if (
            isinstance(event, Connected)
            and event.domain
            and event.dst_port in PROPAGATION_PORTS
            and start <= event.ts <= end
        ):
            hosts.add(event.domain)
    if len(hosts) >= MIN_HOSTS_PROPAGATION and len(ports) >= MIN_PORTS_PROPAGATION:
        return len(hosts)
    return 0
