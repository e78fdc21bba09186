"""Mining: a stratum login (any dialect) to a pool, or pool-port traffic with the CPU kept busy.

xmrig's own donation connections are not the attacker's pool and are left out. The process
that logged in is named by behaviour, whatever it calls itself (`[kworker/0:1]`, kdevtmpfsi).
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.findings import Evidence, Finding
from detonate.model.netevents import StratumLogin, StratumSessionEnded

NAME = "mining"
# THREATS.md §Indicators: ports pools listen on (443/80 too, but those alone say nothing).
POOL_PORTS = frozenset(
    {3333, 3334, 3335, 3336, 4444, 5555, 7777, 8888, 9999, 14433, 14444, 45560, 45700}
)
BUSY_CPU_FRACTION = 0.5  # of the run's wall time, summed over cores


class Mining:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        logins = [e for e in index.net_events if isinstance(e, StratumLogin) and not e.donation]
        if logins:
            evidence = [_login_evidence(index, login) for login in logins[:10]]
            evidence += _session_evidence(index)
            return (
                finding("stratum-mining-login", NAME, evidence),
                finding("mining-pool-connection", NAME, evidence),
            )
        busy = _busy(run)
        if busy is None:
            return ()
        pool_traffic = _pool_port_evidence(index)
        if not pool_traffic:
            return ()
        evidence = [*pool_traffic, busy]
        return (finding("pool-port-traffic-with-cpu", NAME, evidence),)


def _login_evidence(index: RunIndex, login: StratumLogin) -> Evidence:
    pid = index.actor(login)
    details = [f"wallet {login.wallet}"]
    if login.worker:
        details.append(f"worker {login.worker}")
    if login.password and login.password not in ("x", ""):
        details.append(f"password {login.password}")
    if login.agent:
        details.append(f"agent {login.agent}")
    if login.rig_id:
        details.append(f"rig {login.rig_id}")
    if login.algos:
        details.append(f"algorithm {login.algos[0]}")
    transport = "stratum+ssl" if login.tls else "stratum+tcp"
    return Evidence(
        description=f"{login.dialect} stratum login over {transport}",
        excerpt="; ".join(details),
        event_ids=(login.seq,),
        process=index.chain(pid, login.seq) if pid else (),
        destination=index.net_destination(login),
        path=index.procs[pid].exe if pid in index.procs else "",
    )


def _session_evidence(index: RunIndex) -> list[Evidence]:
    out = []
    for event in index.net_events:
        if isinstance(event, StratumSessionEnded) and (event.jobs_sent or event.shares):
            out.append(
                Evidence(
                    description=f"pool session: {event.jobs_sent} job(s) received, "
                    f"{event.shares} share(s) submitted in {event.seconds:g} s",
                    event_ids=(event.seq,),
                    destination=index.net_destination(event),
                )
            )
    return out[:5]


def _busy(run: RunView) -> Evidence | None:
    """The run's CPU use, when it kept at least half a core busy (needs RunView.run)."""
    info = run.run
    if info is None or not info.duration_seconds:
        return None
    fraction = info.cpu_seconds / info.duration_seconds
    if fraction < BUSY_CPU_FRACTION:
        return None
    return Evidence(
        description=f"CPU busy: {info.cpu_seconds:g} s of CPU in {info.duration_seconds:g} s "
        f"of run ({fraction:.0%})"
    )


def _pool_port_evidence(index: RunIndex) -> list[Evidence]:
    out = []
    seen: set[tuple[str, int]] = set()
    for connect in index.connections:
        key = (connect.address, connect.port)
        if connect.port in POOL_PORTS and not index.is_local(connect.address) and key not in seen:
            seen.add(key)
            out.append(
                Evidence(
                    description="connection to a mining-pool port",
                    event_ids=(connect.seq,),
                    process=index.chain(connect.pid, connect.seq),
                    destination=index.destination(connect.address, connect.port),
                )
            )
    return out[:5]
