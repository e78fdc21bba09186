"""Killing competitors: signals that ended processes named like miners, and mass kills.

The tracer records `kill(6, SIGKILL)` with the pid as the sample saw it (its own pid
namespace) and, when it could translate it, the victim's host pid (`target_host_pid`): that
process is the victim. Signals without it (process groups, traces recorded before the tracer
translated pids) are matched by what happened next: a process of the run that died of that
signal right after it was sent. Kill tools that ran by name (`pkill -f xmrig`, `killall
kinsing`, even when absent from the image) are attempts too.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, command_line, index_of, program
from detonate.detect.interface import RunView
from detonate.model.events import ProcessExecuted, ProcessExited, SignalSent
from detonate.model.findings import Evidence, Finding

NAME = "competitor-kill"
# THREATS.md §Indicators, and the words miners keep in their names.
MINER_NAMES = re.compile(
    r"xmrig|xmr-stak|minerd|cpuminer|ccminer|ethminer|lolminer|nbminer|t-rex|srbminer|"
    r"kdevtmpfsi|kinsing|kworkerds|sysupdate|networkservice|sysguard|dbused|miner\b|"
    r"\bxmr\b|stratum",
    re.IGNORECASE,
)
KILL_TOOLS = frozenset({"kill", "pkill", "killall", "killall5", "skill", "xargs"})
LETHAL = frozenset({"SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGABRT", "SIGSTOP"})
VICTIM_SECONDS = 1.0  # a killed process dies within this of the signal
MASS_KILL_VICTIMS = 3
MASS_KILL_WINDOW = 10.0


class CompetitorKill:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        kills = _victims(index)
        found: list[Finding] = []
        first_kill: dict[int, SignalSent] = {}  # kill -15, then kill -9: one victim
        for signal, pid in kills:
            first_kill.setdefault(pid, signal)
        miners = [
            (signal, pid)
            for pid, signal in first_kill.items()
            if _miner_like(index, pid, signal.seq)
        ]
        attempts = _named_attempts(index)
        if miners or attempts:
            evidence = [_kill_evidence(index, signal, pid) for signal, pid in miners]
            evidence += [
                Evidence(
                    description="kill tool aimed at miner names"
                    + ("" if event.succeeded else f" (failed: {event.error})"),
                    event_ids=(event.seq,),
                    process=(*index.chain(event.pid, event.seq)[:-1], command_line(event.argv)),
                )
                for event in attempts
            ]
            found.append(finding("kill-competing-miners", NAME, evidence))
        mass = _mass_kill(index, kills)
        if mass:
            found.append(finding("mass-process-kill", NAME, mass))
        return tuple(found)


def _victims(index: RunIndex) -> list[tuple[SignalSent, int]]:
    """(signal, host pid of the process it killed): named by the tracer, else matched by the
    signal and the time of a death."""
    pending: deque[SignalSent] = deque()
    matched: list[tuple[SignalSent, int]] = []
    named = {
        e.target_host_pid
        for e in index.events
        if isinstance(e, SignalSent) and e.target_host_pid in index.procs
    }
    for event in index.events:
        if isinstance(event, SignalSent):
            if event.signal not in LETHAL or not event.succeeded or event.target_pid == 0:
                continue
            if event.target_host_pid:
                if event.target_host_pid in index.procs and event.target_host_pid != event.pid:
                    matched.append((event, event.target_host_pid))
            else:
                pending.append(event)
        elif isinstance(event, ProcessExited) and event.signal and event.pid not in named:
            while pending and event.ts - pending[0].ts > VICTIM_SECONDS:
                pending.popleft()
            for signal in pending:
                if signal.signal == event.signal and signal.pid != event.pid:
                    pending.remove(signal)
                    matched.append((signal, event.pid))
                    break
    return matched


def _miner_like(index: RunIndex, pid: int, at: int) -> bool:
    """The victim ran, by the signal at `at`, a program named like a miner (what it became
    after a signal it survived is not what was killed)."""
    proc = index.procs.get(pid)
    if proc is None:
        return False
    images = [image for image in proc.images if image.start_seq <= at] or list(proc.images[:1])
    if not images:  # known only from the process table
        names = [proc.name, posixpath.basename(proc.exe), *(e.path for e in proc.execs)]
    else:
        names = [
            name
            for image in images
            for name in (image.name, posixpath.basename(image.exe), image.path)
        ]
        names += [e.path for image in images for e in image.failed_execs if e.seq <= at]
    return any(MINER_NAMES.search(name) for name in names if name)


def _named_attempts(index: RunIndex) -> list[ProcessExecuted]:
    """`pkill -f xmrig`, `killall -9 kinsing kdevtmpfsi`, ran or tried."""
    out = []
    for event in index.events:
        if not isinstance(event, ProcessExecuted):
            continue
        name = program(event.argv, event.path, event.applet)
        if name in KILL_TOOLS and any(MINER_NAMES.search(arg) for arg in event.argv[1:]):
            out.append(event)
    return out


def _kill_evidence(index: RunIndex, signal: SignalSent, victim: int) -> Evidence:
    proc = index.procs[victim]
    ended = proc.exit_seq is not None and proc.exit_seq > signal.seq
    image = index.image_at(victim, signal.seq)  # what it ran when the signal came
    name, exe = (image.name, image.exe) if image is not None else (proc.name, proc.exe)
    return Evidence(
        description=f"{signal.signal} {'ended' if ended else 'sent to'} {name} (pid {victim})",
        path=exe,
        event_ids=(signal.seq, *([proc.exit_seq] if ended and proc.exit_seq is not None else [])),
        process=index.chain(signal.pid, signal.seq),
    )


def _mass_kill(index: RunIndex, kills: list[tuple[SignalSent, int]]) -> list[Evidence]:
    """Many victims within a window, none of them the killer's own children (a `timeout` or
    a shell ending its job); or a signal to every process (`kill -9 -1`)."""
    everyone = [
        e
        for e in index.events
        if isinstance(e, SignalSent) and e.target_pid == -1 and e.signal in LETHAL
    ]
    if everyone:
        return [
            Evidence(
                description=f"{e.signal} sent to every process (kill -1)",
                event_ids=(e.seq,),
                process=index.chain(e.pid, e.seq),
            )
            for e in everyone[:3]
        ]
    foreign = [
        (signal, pid)
        for signal, pid in kills
        if index.procs.get(pid) is not None and index.procs[pid].ppid != signal.pid
    ]
    for start, (first, _) in enumerate(foreign):
        window = [k for k in foreign[start:] if k[0].ts - first.ts <= MASS_KILL_WINDOW]
        if len({pid for _, pid in window}) >= MASS_KILL_VICTIMS:
            return [_kill_evidence(index, signal, pid) for signal, pid in window]
    return []
