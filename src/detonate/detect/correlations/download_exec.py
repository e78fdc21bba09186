"""Payloads fetched at run time: bytes that came from the network reached an exec, whatever
tools moved them (detect/provenance: pipes, files written by other programs, cp, mv, sed …),
or a download fed to a shell in a way provenance does not follow (`sh -c "$(curl …)"`).

A "downloader" is any process that reached a non-local address (connect, or an HTTP request the
simulated internet saw on its flow) — whatever it is called, so renamed wget/curl copies and
home-made fetchers count the same.
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.pinned import pinned
from detonate.detect.correlations.pipelines import consumers
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.detect.provenance import NETWORK, Sink, provenance_of
from detonate.model.findings import Confidence, Evidence, Finding, Severity

NAME = "download-exec-chain"
NOT_PAYLOADS = ("/dev/null", "/dev/tty", "/dev/pts/", "/dev/std", "/proc/", "/sys/")
DNS_PORT = 53
# A chain provenance followed from the connect to the run (order and program images checked):
# one specific act that is enough on its own.
FOLLOWED = (
    "The bytes were followed from the connection to the run, through every program and file "
    "that carried them (evidence in order)."
)


class DownloadExecChain:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        fetched = downloaders(index)
        sinks = provenance_of(run).of_kind(NETWORK)
        found = [_sink_finding(index, sink, fetched) for sink in sinks]
        found.extend(_ingress(f) for f in found if f.rule_id == "download-pipe-shell")
        fed = {sink.pid for sink in sinks if sink.how == "pipe"}
        for pid in sorted(fetched):
            found.extend(_piped_into_shell(index, pid, fetched[pid], fed))
        return tuple(found)


def downloaders(index: RunIndex) -> dict[int, list[Evidence]]:
    """Pids that reached a non-local address, with the destinations as evidence."""
    out: dict[int, list[Evidence]] = {}
    seen: set[tuple[int, str, int]] = set()
    for connect in index.connections:
        if connect.port == DNS_PORT or index.is_local(connect.address):
            continue
        if (connect.pid, connect.address, connect.port) in seen:
            continue
        seen.add((connect.pid, connect.address, connect.port))
        requests = [
            e
            for e in index.http_for(connect.pid)
            if (e.dst_ip, e.dst_port) == (connect.address, connect.port)
        ]
        description = (
            "fetched " + ", ".join(r.url for r in requests[:3])
            if requests
            else ("connected" if connect.succeeded else f"tried to connect ({connect.error})")
        )
        out.setdefault(connect.pid, []).append(
            Evidence(
                description=description,
                event_ids=(connect.seq, *(r.seq for r in requests[:3])),
                process=index.chain(connect.pid, connect.seq),
                destination=index.destination(connect.address, connect.port),
            )
        )
    return out


def _sink_finding(index: RunIndex, sink: Sink, fetched: dict[int, list[Evidence]]) -> Finding:
    """Network bytes that ran: the fetch, every hop the bytes took, the mode change, the run."""
    source = sink.taint.source
    evidence = [e for e in fetched.get(source.pid, ()) if source.seq in e.event_ids]
    evidence = evidence or list(fetched.get(source.pid, ()))[:3]
    for hop in sink.taint.hops[1:]:
        if hop.path and not hop.path.startswith(NOT_PAYLOADS):
            evidence.append(index.file_evidence(hop.path, hop.what, (hop.seq,), hop.pid))
        else:
            evidence.append(
                Evidence(
                    description=hop.what,
                    event_ids=(hop.seq,),
                    process=index.chain(hop.pid, hop.seq),
                )
            )
    if sink.how == "pipe":
        shell = index.procs[sink.pid]
        evidence.append(
            Evidence(
                description=f"{shell.name} ran it as its program (read from its standard input)",
                event_ids=(sink.seq, *shell.exec_seqs),
                process=index.chain(sink.pid),
                excerpt=_what_it_ran(index, sink.pid),
            )
        )
        return finding(
            "download-pipe-shell", NAME, evidence, severity=Severity.CRITICAL, why=FOLLOWED
        )
    after = sink.taint.hops[-1].seq
    chmods = [c for c in index.chmods.get(sink.path, ()) if after < c.seq < sink.seq]
    for chmod in chmods[:3]:
        evidence.append(
            Evidence(
                description=f"mode set to {chmod.mode:o}"
                + ("" if chmod.succeeded else f" ({chmod.error})"),
                path=chmod.path,
                event_ids=(chmod.seq,),
                process=index.chain(chmod.pid, chmod.seq),
            )
        )
    how = "the downloaded file was executed" if sink.how == "exec" else "ran as a script"
    if sink.how == "script":
        how = f"{index.procs[sink.pid].name} ran the downloaded file as a script"
    evidence.append(
        Evidence(
            description=how + ("" if sink.succeeded else " (failed)"),
            path=sink.path,
            event_ids=(sink.seq,),
            process=index.chain(sink.pid, sink.seq),
        )
    )
    if not sink.succeeded:
        why = "It failed in the sandbox; the intent is the same."
        return finding("download-write-exec", NAME, evidence, confidence=Confidence.MEDIUM, why=why)
    change = index.files.get(sink.path)
    where = pinned(index.run, index, sink.pid, change.sha256 if change else "")
    if where:
        why = f"{FOLLOWED} Its sha256 is pinned in {where}: the image chose these bytes."
        return finding("download-write-exec", NAME, evidence, severity=Severity.MEDIUM, why=why)
    return finding("download-write-exec", NAME, evidence, severity=Severity.CRITICAL, why=FOLLOWED)


def _ingress(piped: Finding) -> Finding:
    """The transfer half of a followed download-to-shell (T1105 beside its T1059.004)."""
    return finding("download-fed-to-interpreter", NAME, piped.evidence)


def _piped_into_shell(
    index: RunIndex, pid: int, fetched: list[Evidence], fed: set[int]
) -> list[Finding]:
    """Shells that ran the downloader's output where provenance could not follow it: traces
    without fds, `sh -c "$(curl …)"`, `bash <(curl …)` (pipelines.py infers them)."""
    found: list[Finding] = []
    for consumer in consumers(index, pid):
        if consumer.shell in fed:
            continue  # already a provenance finding
        shell = index.procs[consumer.shell]
        evidence = list(fetched)
        evidence.append(
            Evidence(
                description=f"its output ran in a shell ({consumer.how})",
                event_ids=shell.exec_seqs,
                process=index.chain(shell.pid),
                excerpt=_what_it_ran(index, shell.pid),
            )
        )
        found.append(finding("download-pipe-shell", NAME, evidence))
    return found


def _what_it_ran(index: RunIndex, shell: int) -> str:
    """The commands the fed shell started: what the downloaded script did."""
    lines = [
        " ".join(index.procs[child].argv)
        for child in index.descendants(shell)
        if index.procs[child].execs
    ]
    return "\n".join(lines[:10])
