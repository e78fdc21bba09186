"""Denial of service: requests or packets per second to one target.

HTTP floods are counted per target host from the requests the simulated internet answered,
and from the connects the tracer saw (the simulator's rate limit may drop some of the flood);
packet floods from the simulator's traffic measure and per-destination datagram counts.
"""

from __future__ import annotations

from collections import defaultdict, deque

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of, is_loopback
from detonate.detect.interface import RunView
from detonate.model.findings import Evidence, Finding
from detonate.model.netevents import DatagramSunk, HttpRequested, TrafficMeasured

NAME = "flood"
HTTP_PER_SECOND = 20  # requests to one host within one second
HTTP_TOTAL = 100  # … and at least this many in all
PACKETS_PER_SECOND = 2000
DATAGRAMS_ONE_TARGET = 1000
CONNECTS_PER_SECOND = 50  # connects to one destination in one second (any protocol)


class Flood:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        found: list[Finding] = []
        http = _http_flood(index)
        if http:
            found.append(finding("http-flood", NAME, http))
        packets = _packet_flood(index, run, explained=bool(http))
        if packets:
            found.append(finding("packet-flood", NAME, packets))
        return tuple(found)


def _http_flood(index: RunIndex) -> list[Evidence]:
    by_target: dict[str, list[HttpRequested]] = defaultdict(list)
    for event in index.net_events:
        if isinstance(event, HttpRequested) and not is_loopback(event.dst_ip):
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
        elif isinstance(event, DatagramSunk) and event.datagrams >= DATAGRAMS_ONE_TARGET:
            pid = index.actor(event)
            evidence.append(
                Evidence(
                    description=f"{event.datagrams} datagrams ({event.bytes_total} bytes) "
                    "to one destination",
                    event_ids=(event.seq,),
                    process=index.chain(pid, event.seq) if pid else (),
                    destination=index.net_destination(event),
                )
            )
    by_destination: dict[tuple[str, int], list[float]] = defaultdict(list)
    for connect in index.connections:
        by_destination[(connect.address, connect.port)].append(connect.ts)
    for (address, port), times in by_destination.items():
        if explained:
            break
        peak, _ = _peak_per_second(times)
        if peak >= CONNECTS_PER_SECOND and not is_loopback(address):
            evidence.append(
                Evidence(
                    description=f"{len(times)} connections, up to {peak} in one second",
                    destination=index.destination(address, port),
                )
            )
    return evidence


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
