"""Who made the traffic: the network simulator's events (pid 0) get the process of the socket.

The simulator sees flows (src ip:port → original dst ip:port); the tracer sees the sample's
socket calls, with the socket's own end once strace showed it (`local_port`). A flow is matched
  1. by its 4-tuple: a traced connect/send on a socket whose local port is the flow's source
     port and whose peer is the flow's destination;
  2. else by destination and time: the last traced connect/send to that ip:port (to that
     port, when the simulator did not say the address) before the flow began (clock skew
     between the two tolerated up to SKEW_SECONDS).
Every event of one flow gets the same process.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Iterable

from detonate.model.events import Event, NetworkConnected, NetworkEvent, NetworkSent
from detonate.model.netevents import NetEvent
from detonate.model.runtime import ProcessInfo

SKEW_SECONDS = 1.0

Flow = tuple[str, str, int, str, int]  # transport, src ip, src port, dst ip, dst port
_Key = tuple[str, int]  # destination address, port


def attribute(events: tuple[Event, ...], processes: Iterable[ProcessInfo]) -> tuple[Event, ...]:
    """`events` (one merged, time-ordered stream) with the simulator's events attributed."""
    table = {p.pid: p for p in processes}
    by_tuple: dict[tuple[str, int, str, int], NetworkEvent] = {}
    by_destination: dict[_Key, list[NetworkEvent]] = defaultdict(list)
    by_port: dict[int, list[NetworkEvent]] = defaultdict(list)
    for e in events:
        if not isinstance(e, NetworkConnected | NetworkSent) or not e.pid or not e.port:
            continue
        if not (e.succeeded or e.error == "EINPROGRESS"):
            continue
        address = _plain(e.address)
        by_destination[(address, e.port)].append(e)  # already in time order
        by_port[e.port].append(e)
        if e.local_port:
            by_tuple.setdefault((e.protocol.lower(), e.local_port, address, e.port), e)

    flows: dict[Flow, list[int]] = defaultdict(list)
    for index, e in enumerate(events):
        if isinstance(e, NetEvent) and not e.pid and e.dst_port:
            flow = (e.transport, _plain(e.src_ip), e.src_port, _plain(e.dst_ip), e.dst_port)
            flows[flow].append(index)

    out = list(events)
    for flow, indexes in flows.items():
        transport, _, src_port, dst_ip, dst_port = flow
        candidates = by_destination.get((dst_ip, dst_port), []) if dst_ip else by_port[dst_port]
        actor = by_tuple.get((transport, src_port, dst_ip, dst_port)) or _last_before(
            candidates, events[indexes[0]].ts
        )
        if actor is None:
            continue
        ppid = actor.ppid or (table[actor.pid].ppid if actor.pid in table else 0)
        for index in indexes:
            out[index] = dataclasses.replace(
                events[index], pid=actor.pid, ppid=ppid, exe=actor.exe, argv=actor.argv
            )
    return tuple(out)


def _last_before(candidates: list[NetworkEvent], ts: float) -> NetworkEvent | None:
    if not candidates:
        return None
    at = bisect.bisect_right([c.ts for c in candidates], ts)
    if at > 0:
        return candidates[at - 1]
    first = candidates[0]
    return first if first.ts - ts <= SKEW_SECONDS else None


def _plain(address: str) -> str:
    """An IPv4 address as an IPv6 socket shows it ("::ffff:192.0.2.1") → "192.0.2.1"."""
    return address.removeprefix("::ffff:")
