"""Denial of service: requests or packets per second to one target.

HTTP floods are counted per target host from the requests the simulated internet answered,
and from the connects the tracer saw (the simulator's rate limit may drop some of the flood);
packet floods from the simulator's traffic measure, and from the datagrams sent to one
destination, summed over every flow, socket and process (a flooder forks workers): many in
one second, or many in the run. Hand-made packets on a raw socket (a SYN flood's segments)
count as datagrams: each `sendto` is one packet on the wire.

A flood aimed at one target (an HTTP host, one address's datagrams or raw packets, one
destination's connects) is critical: no service sends that to one peer. The run's packet rate
alone (no single target) stays at the rule's severity.
"""

from __future__ import annotations

from collections import defaultdict, deque

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.events import NetworkSent
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.model.netevents import DatagramSunk, HttpRequested, TrafficMeasured

NAME = "flood"
HTTP_PER_SECOND = 20  # requests to one host within one second
HTTP_TOTAL = 100  # … and at least this many in all
PACKETS_PER_SECOND = 2000
DATAGRAMS_ONE_TARGET = 1000  # datagrams to one address in the run
DATAGRAMS_ONE_TARGET_PER_SECOND = 500  # … or within one second (DNS and statsd send a few)
DNS_PORT = 53
PACKET_PROTOCOLS = frozenset({"UDP", "RAW"})  # sends that are a packet each
CONNECTS_PER_SECOND = 50  # connects to one destination in one second (any protocol)


class Flood:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        found: list[Finding] = []
        http = _http_flood(index)
        if http:
            found.append(finding("http-flood", NAME, http, severity=Severity.CRITICAL))
        packets = _packet_flood(index, run, explained=bool(http))
        if packets:
            aimed = any(e.destination for e in packets)  # a target's own evidence
            found.append(
                finding(
                    "packet-flood",
                    NAME,
                    packets,
                    severity=Severity.CRITICAL if aimed else None,
                    confidence=Confidence.HIGH if aimed else None,
                    why="Aimed at one target." if aimed else "",
                )
            )
        return tuple(found)


def _http_flood(index: RunIndex) -> list[Evidence]:
    by_target: dict[str, list[HttpRequested]] = defaultdict(list)
    for event in index.net_events:
        if isinstance(event, HttpRequested) and not index.is_local(event.dst_ip):
            host = (event.host or event.domain or event.dst_ip).rsplit(":", 1)[0]
            by_target[host].append(event)
    evidence = []
    for host, requests in by_target.items():
        peak, peak_start = _peak_per_second([r.ts for r in requests])
        if peak >= HTTP_PER_SECOND and len(requests) >= HTTP_TOTAL:
            seconds = requests[-1].ts - requests[0].ts
            first = requests[peak_start]
            pid = index.actor(first)
            evidence.append(
                Evidence(
                    description=f"{len(requests)} HTTP requests to {host} in {seconds:.1f} s, "
                    f"up to {peak} in one second",
                    event_ids=tuple(r.seq for r in requests[:20]),
                    process=index.chain(pid, first.seq) if pid else (),
                    destination=index.net_destination(first),
                    excerpt=f"{first.method} {first.url}",
                )
            )
    return evidence


def _packet_flood(index: RunIndex, run: RunView, explained: bool) -> list[Evidence]:
    """`explained`: an HTTP flood was found, and its connections and packets are not a
    second, network-level flood."""
    evidence = []
    for event in run.events:
        if (
            isinstance(event, TrafficMeasured)
            and event.peak_pps >= PACKETS_PER_SECOND
            and not explained
        ):
            evidence.append(
                Evidence(
                    description=f"{event.peak_pps} packets in one second at peak, "
                    f"{event.packets} in {event.seconds:g} s "
                    f"({event.dropped_by_limit} dropped by the sandbox's rate limit)",
                    event_ids=(event.seq,),
                )
            )
    evidence.extend(_datagram_flood(index, run))
    by_destination: dict[tuple[str, int], list[float]] = defaultdict(list)
    for connect in index.connections:
        by_destination[(connect.address, connect.port)].append(connect.ts)
    for (address, port), times in by_destination.items():
        if explained:
            break
        peak, _ = _peak_per_second(times)
        if peak >= CONNECTS_PER_SECOND and not index.is_local(address):
            evidence.append(
                Evidence(
                    description=f"{len(times)} connections, up to {peak} in one second",
                    destination=index.destination(address, port),
                )
            )
    return evidence


def _datagram_flood(index: RunIndex, run: RunView) -> list[Evidence]:
    """Datagrams to one address: the simulator's sink counts them per flow (`datagrams`), the
    tracer sees each sendto; the busiest second comes from the tracer's sends or, when it
    missed them, from the simulator's measured peak (when these datagrams were most of the
    traffic)."""
    sunk: dict[str, list[DatagramSunk]] = defaultdict(list)
    for event in index.net_events:
        if (
            isinstance(event, DatagramSunk)
            and event.dst_port != DNS_PORT
            and event.dst_ip
            and not index.is_local(event.dst_ip)
        ):
            sunk[event.dst_ip].append(event)
    sends: dict[str, list[NetworkSent]] = defaultdict(list)
    for packet in run.events:
        if (
            isinstance(packet, NetworkSent)
            and packet.protocol in PACKET_PROTOCOLS
            and packet.port != DNS_PORT
            and packet.address
            and not index.is_local(packet.address)
        ):
            sends[packet.address].append(packet)
    measured = [e for e in run.events if isinstance(e, TrafficMeasured)]
    evidence = []
    for address in sorted(set(sunk) | set(sends)):
        flows, sent = sunk.get(address, []), sends.get(address, [])
        datagrams = sum(f.datagrams for f in flows)
        total = max(datagrams, len(sent))
        peak, peak_start = _peak_per_second([e.ts for e in sent])
        if not sent and measured and datagrams * 2 >= measured[-1].packets:
            # most of the run's packets went there: the run's busiest second is theirs
            peak = min(measured[-1].peak_pps, datagrams)
        if total < DATAGRAMS_ONE_TARGET and peak < DATAGRAMS_ONE_TARGET_PER_SECOND:
            continue
        first: NetworkSent | DatagramSunk = sent[peak_start] if sent else flows[0]
        pid = first.pid if isinstance(first, NetworkSent) else index.actor(first)
        pids = {e.pid for e in sent} | {e.pid for e in flows if e.pid}
        ports = sorted({f.dst_port for f in flows} | {e.port for e in sent})
        evidence.append(
            Evidence(
                description=f"{total} {'raw packets' if _raw(sent) else 'datagrams'} "
                f"({sum(f.bytes_total for f in flows) or sum(e.bytes for e in sent)} bytes) "
                f"to {address} on port{'s' if len(ports) > 1 else ''} "
                f"{', '.join(map(str, ports[:10]))} from {len(pids) or 1} "
                f"process{'es' if len(pids) > 1 else ''}, up to {peak} in one second",
                event_ids=tuple(e.seq for e in [*flows, *sent][:20]),
                process=index.chain(pid, first.seq) if pid else (),
                destination=index.destination(address, ports[0]) if ports else address,
            )
        )
    return evidence


def _raw(sent: list[NetworkSent]) -> bool:
    return any(e.protocol == "RAW" for e in sent)


def _peak_per_second(times: list[float]) -> tuple[int, int]:
    """Most events within any one-second window, and the index where that window starts."""
    window: deque[int] = deque()
    peak, peak_start = 0, 0
    for i, ts in enumerate(times):
        window.append(i)
        while ts - times[window[0]] > 1.0:
            window.popleft()
        if len(window) > peak:
            peak, peak_start = len(window), window[0]
    return peak, peak_start
