"""Credential access by what was read, bait or not: the password hashes, another process's
environment or memory, a user's private SSH key.

    cat /etc/shadow                         password-hashes-read      T1003.008
    open("/proc/1234/environ"), …/mem       process-memory-read       T1003.007
    open("/root/.ssh/id_rsa") by node       private-key-read          T1552.004

The tracer reports these reads whoever planted the file (model/watched_reads.py; a process's
own /proc/PID files are not reported). Programs whose job the file is are left out
(provenance/collected.py: passwd, PAM's helpers, sshd for the hashes; ssh, git for a key).
Reading another process's memory succeeds only for its owner or root and nothing in a
workload does it at start: one such read is enough (critical); environments alone are high.
A read of the hashes alone weighs little (libc's getspnam reads them for any program that looks
a user up as root, Perl's getpwnam does): their leaving is what counts (exfiltration.py). A
refused read shows the intent (medium confidence). Planted bait (honeytokens.py) is judged
there; a service-account token is honeytokens.py's too, planted or the image's own.
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import index_of, program
from detonate.detect.interface import RunView
from detonate.detect.provenance.collected import credential_kind
from detonate.model.events import FileOpenedForRead
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.model.watched_reads import (
    PASSWORD_HASHES,
    PROCESS_ENVIRON,
    PROCESS_MEMORY,
    SSH_PRIVATE_KEY,
)

NAME = "credential-access"
RULES = {
    PASSWORD_HASHES: "password-hashes-read",
    PROCESS_ENVIRON: "process-memory-read",
    PROCESS_MEMORY: "process-memory-read",
    SSH_PRIVATE_KEY: "private-key-read",
}
MAX_EVIDENCE = 20


class CredentialAccess:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        reads: dict[str, list[tuple[FileOpenedForRead, Evidence]]] = {}
        for event in run.events:
            if not isinstance(event, FileOpenedForRead) or event.honeytoken:
                continue
            proc = index.procs.get(event.pid)
            argv = index.argv_at(event.pid, event.seq) if proc else event.argv
            kind = credential_kind(event, program(argv, event.exe))
            rule = RULES.get(kind)
            if rule is None:
                continue
            found = reads.setdefault(rule, [])
            if len(found) >= MAX_EVIDENCE:
                continue
            failed = "" if event.succeeded else f" (refused: {event.error})"
            found.append(
                (
                    event,
                    Evidence(
                        description=f"read {event.path} ({kind}){failed}",
                        path=event.path,
                        event_ids=(event.seq,),
                        process=index.chain(event.pid, event.seq),
                    ),
                )
            )
        found_rules = []
        for rule, items in sorted(reads.items()):
            evidence = [e for _, e in items]
            succeeded = [event for event, _ in items if event.succeeded]
            severity = None
            if rule == "process-memory-read" and not any(
                e.path.endswith("/mem") for e in succeeded
            ):
                severity = Severity.HIGH  # environments only: secrets, not the memory
            # a refused read shows the intent; the hashes' rule is low confidence already
            refused = not succeeded and rule != "password-hashes-read"
            confidence = Confidence.MEDIUM if refused else None
            found_rules.append(
                finding(rule, NAME, evidence, severity=severity, confidence=confidence)
            )
        return tuple(found_rules)
