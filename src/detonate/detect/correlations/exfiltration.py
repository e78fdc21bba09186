"""Collected data leaving: credential material or host facts followed, by data provenance, to
a send on a non-local connection (detect/provenance: `sent` sinks).

    tar czf - /etc /root | openssl enc … > /dev/shm/x; curl -T /dev/shm/x https://…
        → credentials-sent-out (T1041), collected-data-archived (T1560.001)
    Go: exec.Command("uname", "-a").Output(); http.Post(…)
        → host-facts-sent-out
    tar czf - /etc/kubernetes | socat - OPENSSL:…   (admin.conf, pki/*.key)
        → credentials-sent-out, collected-data-archived, credential-files-sent-out (T1552.001),
          private-keys-sent-out (T1552.004)
    python: read ~/.kube/config and .env, then getaddrinfo(<hex of them>.zone.test) × N
        → credential-files-sent-out (the names of a DNS tunnel, dns_shape.tunnelled_queries)

Whatever encoding or archive the bytes went through, the chain is the evidence: who read
what, which programs carried it (pipes, files, the output a parent captured), and where it
was sent. What a program does in memory is not seen: a program that read /etc/shadow and
later sends anything is taken as sending it; hence medium confidence for credentials
(critical: stolen credentials leaving are enough for malicious). Host facts are what every
agent reports about itself (hostname, kernel, OS): one or two kinds of fact sent is named but
weighs little; a survey of several discovery techniques sent out is suspicious.
"""

from __future__ import annotations

from detonate.detect.correlations.dns_shape import tunnelled_queries
from detonate.detect.correlations.exfil_protocol import alternative_protocol_findings
from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of, program
from detonate.detect.interface import RunView
from detonate.detect.provenance import HOST_FACTS, SECRET, Hop, Provenance, Sink, provenance_of
from detonate.detect.provenance.collected import discovery_read_technique, discovery_technique
from detonate.model.events import FileOpenedForRead, NetworkSent, ProcessExecuted
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.model.timeline import ImageId
from detonate.model.watched_reads import STORED_CREDENTIAL_KINDS, credential_family, read_kind

NAME = "exfiltration"
# Programs that pack or encrypt what they read: collected data archived on its way out.
ARCHIVERS = frozenset(
    {"tar", "zip", "7z", "7za", "rar", "gzip", "bzip2", "xz", "zstd", "cpio", "gpg", "age"}
)
SURVEY_TECHNIQUES = 3  # distinct discovery techniques sent out that make a survey


class Exfiltration:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        provenance = provenance_of(run)
        every_sink = provenance.sinks
        sinks = [s for s in every_sink if s.how == "sent"]
        index = index_of(run)
        found: list[Finding] = list(_stored_credentials_out(run, index, provenance, sinks))
        if not sinks:
            return tuple(found)
        secrets = [s for s in sinks if s.taint.kind == SECRET]
        if secrets:
            copied = any(_file_copied_out(index, s) for s in secrets)
            found.append(
                finding(
                    "credentials-sent-out",
                    NAME,
                    [_evidence(index, s) for s in secrets],
                    confidence=Confidence.HIGH if copied else None,
                    why="The reader sent a file's bytes to the socket in the kernel (sendfile, "
                    "splice): no memory between the read and the send to infer."
                    if copied
                    else "",
                )
            )
            archived = [e for s in secrets if (e := _archiver(index, s)) is not None]
            found.extend(alternative_protocol_findings(index, every_sink))
            if archived:
                found.append(finding("collected-data-archived", NAME, archived))
        facts = [s for s in sinks if s.taint.kind == HOST_FACTS]
        if facts:
            techniques = _techniques(run, index, facts)
            survey = len(techniques) >= SURVEY_TECHNIQUES
            evidence = [_evidence(index, s) for s in facts]
            evidence.insert(
                0,
                Evidence(
                    description="host facts gathered before the sends: "
                    + ", ".join(sorted(techniques)),
                    event_ids=tuple(sorted({s.taint.source.seq for s in facts}))[:20],
                ),
            )
            found.append(
                finding(
                    "host-facts-sent-out",
                    NAME,
                    evidence,
                    confidence=Confidence.HIGH if survey else None,
                    severity=Severity.MEDIUM if survey else None,
                )
            )
        return tuple(found)


STORED_RULES = {"credential-file": "credential-files-sent-out", "pki-key": "private-keys-sent-out"}


def _stored_credentials_out(
    run: RunView, index: RunIndex, provenance: Provenance, sinks: list[Sink]
) -> list[Finding]:
    """Credential files of clients (kubeconfig, dotenv, tools' dotfiles: T1552.001) and PKI
    private keys (T1552.004) whose bytes left: a SECRET sink whose first read was one, or
    names of a DNS tunnel asked by an image that held such a SECRET."""
    found: dict[str, list[Evidence]] = {}
    reads: dict[int, list[FileOpenedForRead]] | None = None  # indexed once one is needed
    for sink in sinks:
        if sink.taint.kind == SECRET and _stored(sink.taint.hops[0].path):
            reads = _stored_reads(run) if reads is None else reads
            for rule, paths in _stored_read(reads, sink.taint.hops[0], sink.seq).items():
                evidence = _evidence(index, sink)
                found.setdefault(rule, []).append(
                    Evidence(
                        description=f"{', '.join(paths[:8])} read and sent: "
                        + evidence.description,
                        path=paths[0],
                        event_ids=evidence.event_ids,
                        process=evidence.process,
                        destination=evidence.destination,
                    )
                )
    named: set[ImageId] = set()
    for query in tunnelled_queries(index):
        pid = index.actor(query)
        image = index.timeline.image_at(pid, query.seq) if pid else None
        if image is None or image.id in named:
            continue
        taint = provenance.held_before(image.id, SECRET, query.seq)
        if taint is None or not _stored(taint.hops[0].path):
            continue
        named.add(image.id)
        chain = " → ".join(f"[{h.pid}] {h.what}" for h in taint.hops)
        reads = _stored_reads(run) if reads is None else reads
        for rule, paths in _stored_read(reads, taint.hops[0], query.seq).items():
            found.setdefault(rule, []).append(
                Evidence(
                    description=f"{', '.join(paths[:8])} read, then carried out in the encoded "
                    f"labels of DNS names ({query.name[:80]} …): {chain}",
                    path=paths[0],
                    event_ids=(*(h.seq for h in taint.hops), query.seq),
                    process=index.chain(pid, query.seq),
                    destination=query.name.split(".", 1)[-1][:120],
                )
            )
    return [finding(rule, NAME, evidence[:20]) for rule, evidence in sorted(found.items())]


def _stored(path: str) -> bool:
    return read_kind(path) in STORED_CREDENTIAL_KINDS


def _stored_reads(run: RunView) -> dict[int, list[FileOpenedForRead]]:
    """The run's read opens by pid, in seq order: one pass, then each sink looks at its own
    reader's (paths are classified there, for the pids asked about only)."""
    reads: dict[int, list[FileOpenedForRead]] = {}
    for event in run.events:
        if isinstance(event, FileOpenedForRead):
            reads.setdefault(event.pid, []).append(event)
    return reads


def _stored_read(
    reads: dict[int, list[FileOpenedForRead]], source: Hop, before: int
) -> dict[str, list[str]]:
    """The client credential files the source's process read from the source's read on and
    before `before`, by rule."""
    paths: dict[str, list[str]] = {}
    for event in reads.get(source.pid, ()):
        if event.seq >= before:
            break
        if event.seq < source.seq or not event.succeeded or not _stored(event.path):
            continue
        family = credential_family(event.path)
        rule = STORED_RULES["pki-key" if family == "pki-key" else "credential-file"]
        if event.path not in paths.setdefault(rule, []):
            paths[rule].append(event.path)
    return paths


MAX_SENDS_AFTER = 2000  # events looked at after the first send
IN_KERNEL_COPIES = frozenset({"sendfile", "sendfile64", "splice", "copy_file_range"})


def _file_copied_out(index: RunIndex, sink: Sink) -> bool:
    """The program that read the credential file itself copied a file into the socket with
    sendfile or splice: what left is a file's content, not whatever it held in memory."""
    hops = sink.taint.hops
    if len(hops) != 2 or hops[0].pid != hops[1].pid:  # read, then sent, by one image
        return False
    first = index.events[sink.seq] if 0 <= sink.seq < len(index.events) else None
    if not isinstance(first, NetworkSent):
        return False
    # the sink is the first send after the read; the copies may follow on the same connection
    return any(
        isinstance(e, NetworkSent)
        and e.pid == first.pid
        and (e.address, e.port) == (first.address, first.port)
        and e.call in IN_KERNEL_COPIES
        and e.succeeded
        for e in index.events[sink.seq : sink.seq + MAX_SENDS_AFTER]
    )


def _evidence(index: RunIndex, sink: Sink) -> Evidence:
    hops = sink.taint.hops
    return Evidence(
        description=" → ".join(f"[{h.pid}] {h.what}" for h in hops),
        path=hops[0].path,
        event_ids=tuple(h.seq for h in hops),
        process=index.chain(sink.pid, sink.seq),
        destination=sink.path,
    )


def _archiver(index: RunIndex, sink: Sink) -> Evidence | None:
    """The archive or encryption step of a chain (tar, zip, gzip, openssl enc …), if any."""
    for hop in sink.taint.hops[1:]:
        argv = index.argv_at(hop.pid, hop.seq) if hop.pid in index.procs else ()
        name = program(argv)
        encrypting = name == "openssl" and len(argv) > 1 and argv[1] in ("enc", "smime", "cms")
        if name in ARCHIVERS or encrypting:
            return Evidence(
                description=f"{name} packed the collected data: {' '.join(argv)[:200]}",
                event_ids=(hop.seq,),
                process=index.chain(hop.pid, hop.seq),
            )
    return None


def _techniques(run: RunView, index: RunIndex, sinks: list[Sink]) -> set[str]:
    """The discovery techniques whose output the sending images hold: every discovery exec
    or read by the senders and by the programs whose output they captured."""
    holders = {h.pid for s in sinks for h in s.taint.hops}
    for sink in sinks:
        holders.update(index.descendants(sink.pid))
    techniques: set[str] = set()
    for event in run.events:
        if event.pid not in holders:
            continue
        if isinstance(event, ProcessExecuted) and event.succeeded:
            name = program(event.argv, event.exe, event.applet)
            technique = discovery_technique(name, event.argv, event.path, event.applet)
        elif isinstance(event, FileOpenedForRead) and event.succeeded:
            technique = discovery_read_technique(event.path)
        else:
            continue
        if technique:
            techniques.add(technique)
    return techniques
