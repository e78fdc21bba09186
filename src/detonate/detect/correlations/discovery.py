"""Discovery (informational): the sample looked at the host it runs on before it acted.

Named, never scored: an analyst wants to see that a sample ran `uname -a` and `id`, read
/etc/os-release or /proc/net/route, listed processes or sockets, but so does many an entrypoint
script. What the sample then did with the facts is judged elsewhere (their output leaving the
container: the exfiltration detector, through data provenance).

Evidence: the exec of a discovery program (provenance/collected.py lists them by technique; `ip`
only with an object it shows, not `ip link set`), or of a file tool (cat, grep, awk, sed …) on a
file that describes the host (`grep docker /proc/1/cgroup`, `cat /etc/resolv.conf`, `awk -F:
'$3==0' /etc/passwd`: busybox's shell runs `id` or `hostname` without an exec, but not these),
or the first read of a watched file that describes the host (model/watched_reads.py: another
process's cgroup among them), by each process.
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import command_line, index_of, program
from detonate.detect.interface import RunView
from detonate.detect.provenance.collected import (
    ACCOUNT_DISCOVERY,
    CONNECTIONS_DISCOVERY,
    NETWORK_CONFIG_DISCOVERY,
    OWNER_DISCOVERY,
    PROCESS_DISCOVERY,
    SYSTEM_INFO,
    discovery_read_technique,
    discovery_technique,
)
from detonate.model.events import FileOpenedForRead, ProcessExecuted
from detonate.model.findings import Evidence, Finding

NAME = "discovery"
RULES = {
    SYSTEM_INFO: "discovery-system-information",
    NETWORK_CONFIG_DISCOVERY: "discovery-network-configuration",
    CONNECTIONS_DISCOVERY: "discovery-network-connections",
    OWNER_DISCOVERY: "discovery-system-owner",
    PROCESS_DISCOVERY: "discovery-processes",
    ACCOUNT_DISCOVERY: "discovery-local-accounts",
}
MAX_EVIDENCE = 12  # per technique


class Discovery:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        seen: dict[str, list[Evidence]] = {}
        for event in run.events:
            if isinstance(event, ProcessExecuted) and event.succeeded:
                name = program(event.argv, event.exe, event.applet)
                technique = discovery_technique(name, event.argv, event.path, event.applet)
                what = f"ran {command_line(event.argv)}"
                path = event.path
            elif isinstance(event, FileOpenedForRead) and event.succeeded:
                technique = discovery_read_technique(event.path)
                what, path = f"read {event.path}", event.path
            else:
                continue
            if not technique:
                continue
            found = seen.setdefault(technique, [])
            if len(found) < MAX_EVIDENCE and all(e.description != what for e in found):
                found.append(
                    Evidence(
                        description=what,
                        path=path,
                        event_ids=(event.seq,),
                        process=index.chain(event.pid, event.seq),
                    )
                )
        return tuple(
            finding(RULES[technique], NAME, evidence)
            for technique, evidence in sorted(seen.items())
        )
