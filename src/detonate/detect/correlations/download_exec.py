"""Payloads fetched at run time: a download written to a file that is then run, or a download
fed straight into a shell.

A "downloader" is any process that reached a non-local address (connect, or an HTTP request the
simulated internet saw on its flow) — whatever it is called, so renamed wget/curl copies and
home-made fetchers count the same.
"""

from __future__ import annotations

import dataclasses
import posixpath

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.pipelines import consumers, runs_shell_code, script_argument
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.events import FileOpenedForWrite, ProcessExecuted
from detonate.model.findings import Confidence, Evidence, Finding

NAME = "download-exec-chain"
NOT_PAYLOADS = ("/dev/null", "/dev/tty", "/dev/pts/", "/dev/std", "/proc/", "/sys/")
DNS_PORT = 53


class DownloadExecChain:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        fetched = downloaders(index)
        scripts = _script_runs(index)
        found: list[Finding] = []
        for pid in sorted(fetched):
            found.extend(_written_then_run(index, pid, fetched[pid], scripts))
            found.extend(_piped_into_shell(index, pid, fetched[pid]))
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


def _written_then_run(
    index: RunIndex, pid: int, fetched: list[Evidence], scripts: ScriptRuns
) -> list[Finding]:
    found: list[Finding] = []
    for write in index.writes_by_pid.get(pid, ()):
        if write.path.startswith(NOT_PAYLOADS):
            continue
        paths = _names_of(index, write)
        runs = _runs_of(index, paths, write.seq, scripts)
        if not runs:
            continue
        chmods = [c for path in paths for c in index.chmods.get(path, ()) if c.seq > write.seq]
        evidence = list(fetched)
        evidence.append(
            index.file_evidence(
                write.path,
                "downloader wrote the file" + ("" if write.succeeded else f" ({write.error})"),
                (write.seq,),
                pid,
            )
        )
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
        for event, how in runs[:3]:
            evidence.append(
                Evidence(
                    description=how + ("" if event.succeeded else f" (failed: {event.error})"),
                    path=event.path,
                    event_ids=(event.seq,),
                    process=index.chain(event.pid, event.seq),
                )
            )
        complete = write.succeeded and any(event.succeeded for event, _ in runs)
        found.append(
            finding(
                "download-write-exec",
                NAME,
                evidence,
                confidence=None if complete else Confidence.MEDIUM,
                why="" if complete else "It failed in the sandbox; the intent is the same.",
            )
        )
    return found


def _names_of(index: RunIndex, write: FileOpenedForWrite) -> set[str]:
    """The written path and the names it was renamed to afterwards."""
    paths = {write.path}
    for rename in index.renames:
        if rename.seq > write.seq and rename.path in paths:
            paths.add(rename.new_path)
    return paths


# script path as a shell was given it → (its exec event, the program's name)
ScriptRuns = dict[str, list[tuple[ProcessExecuted, str]]]


def _script_runs(index: RunIndex) -> ScriptRuns:
    """Every shell or interpreter run with a script argument, by that argument."""
    out: ScriptRuns = {}
    for proc in index.procs.values():
        if not runs_shell_code(proc):
            continue
        for event in proc.execs:
            script = script_argument(event.argv) if event.succeeded else None
            if script and not script.startswith("-"):
                out.setdefault(script, []).append((event, proc.name))
    return out


def _runs_of(
    index: RunIndex, paths: set[str], after: int, scripts: ScriptRuns
) -> list[tuple[ProcessExecuted, str]]:
    """Execs of one of `paths`, or shells/interpreters given one of them as their script."""
    runs: list[tuple[ProcessExecuted, str]] = []
    for path in paths:
        for event in index.execs_by_path.get(path, ()):
            if event.seq > after:
                runs.append((event, "the downloaded file was executed"))
        for script in {path, posixpath.basename(path), "./" + posixpath.basename(path)}:
            for event, name in scripts.get(script, ()):
                if event.seq > after:
                    as_script = dataclasses.replace(event, path=path)
                    runs.append((as_script, f"{name} ran the downloaded file as a script"))
    runs.sort(key=lambda pair: pair[0].seq)
    return runs


def _piped_into_shell(index: RunIndex, pid: int, fetched: list[Evidence]) -> list[Finding]:
    found: list[Finding] = []
    for consumer in consumers(index, pid):
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
