"""Time-based evasion: a long (skipped) wait before the first activity that matters.

Sleeps add up until the sample next reaches a non-local address or runs a file it wrote
during the run; the sum is the delay. A web server's `sleep 5` health loop against localhost
never reaches such an activity, so it is not reported. The delay is high severity when what
follows it is a payload: a file written in the run and executed, a downloader fed to a shell,
or a mining pool session.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.pipelines import consumers
from detonate.detect.correlations.run_index import (
    Proc,
    RunIndex,
    index_of,
    program,
)
from detonate.detect.interface import RunView
from detonate.model.events import (
    Event,
    FileOpenedForWrite,
    NetworkBound,
    NetworkConnected,
    NetworkListened,
    ProcessExecuted,
    ProcessExited,
    SleepSkipped,
    WaitPending,
    WaitTimedOut,
)
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.model.netevents import DnsQueried, NetEvent, StratumLogin

NAME = "sleep-evasion"
MIN_DELAY_SECONDS = 10.0  # summed skipped sleeps; "a few seconds" of back-off is normal
DNS_PORT = 53
MAX_PENDING = 10_000
# A delay with nothing after it: one wait this long; stronger when all add up to the total.
LONG_WAIT_SECONDS = 60.0
LONG_TOTAL_SECONDS = 300.0
TEARDOWN_SECONDS = 1.0
TIMER_LOOP_WAITS = 3  # long waits of one process that make it a timer loop
LATE_ACTIVITY_SECONDS = 10.0  # real seconds before a payload's first step (sleeps are skipped)
Wait = SleepSkipped | WaitTimedOut  # a wait that may precede an activity
TimedWait = SleepSkipped | WaitTimedOut | WaitPending
# A receive with the socket's own timeout (SO_RCVTIMEO) waits for one answer on one socket:
# a delay even in a process that bound it (a server idles in poll/accept, not here).
RECEIVE_CALLS = frozenset({"recvfrom", "recvmsg"})


class SleepBeforeActivity:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        written: set[str] = set()
        pending: list[Wait] = []
        servers: set[int] = set()
        first_activity: Event | None = None
        contacted: set[str] = set()  # destinations reached so far
        for event in run.events:
            if isinstance(event, NetworkListened | NetworkBound):
                servers.add(event.pid)
            if isinstance(event, SleepSkipped | WaitTimedOut):
                # a server idles in poll by design; elsewhere a timed-out poll is a delay
                waits_as_server = event.pid in servers and event.call not in RECEIVE_CALLS
                if len(pending) < MAX_PENDING and not waits_as_server:
                    pending.append(event)
                continue
            if isinstance(event, FileOpenedForWrite) and event.succeeded:
                written.add(event.path)
            if not _is_activity(index, event, written):
                continue
            first_activity = first_activity or event
            destination = _destination(index, event)
            again = bool(destination) and destination in contacted
            contacted.add(destination)
            if not pending:
                continue
            waited = _waits_of(index, pending, event.pid, event.ts)
            delay = sum(s.requested_seconds for s in waited)
            # A wait between two contacts with one destination is a polling interval (a
            # heartbeat every 15 s), not a delay that hid the first contact: the beaconing
            # detector judges the cadence; a payload after it still makes the wait a delay.
            interval = again and _payload_after(index, event) is None
            if delay >= MIN_DELAY_SECONDS and not interval:
                return (_finding(index, waited, delay, event),)
            # short waits between activities: a polling loop, not an evasion
            pending = [s for s in pending if s not in waited]
        return _late_payload(index, first_activity) or _delay_alone(index, pending)


def _late_payload(index: RunIndex, first: Event | None) -> tuple[Finding, ...]:
    """A payload whose first step came long after the start though no skippable sleep explains
    it: the wait was a busy loop, a blocking read, ping, a timer — a delay of another kind."""
    if first is None or first.ts < LATE_ACTIVITY_SECONDS:
        return ()
    payload = _payload_after(index, first)
    if payload is None:
        return ()
    evidence = [
        Evidence(
            description=f"first activity {first.ts:.0f} s after the container started, a wait "
            f"spent in something other than a sleep: {_describe(index, first)}",
            event_ids=(first.seq,),
            process=index.chain(first.pid, first.seq) if first.pid else (),
            destination=_destination(index, first),
        ),
        payload,
    ]
    return (
        finding(
            "sleep-before-activity",
            NAME,
            evidence,
            severity=Severity.MEDIUM,
            confidence=Confidence.MEDIUM,
            why="The payload came only after a long wait that did not use sleep calls.",
        ),
    )


def _delay_alone(index: RunIndex, sleeps: list[Wait]) -> tuple[Finding, ...]:
    """A long delay that nothing followed in the run: waits adding up to minutes, or one long
    wait (a skipped sleep, a poll/select timeout, a `timeout N` the run ended inside). Short
    sleeps adding up are a daemon's or a health check's loop as often as an evasion (crond
    sleeps 30 s at a time), so they are reported only with one wait of minutes among them."""
    waits: list[tuple[float, Event]] = [
        (s.requested_seconds, s) for s in sleeps if isinstance(s, SleepSkipped)
    ]
    waits += _other_waits(index)
    waits = _without_timer_loops(waits)
    if not waits:
        return ()
    total = sum(seconds for seconds, _ in waits)
    longest, longest_event = max(waits, key=lambda w: w[0])
    if longest < LONG_WAIT_SECONDS:
        return ()
    evidence = [
        Evidence(
            description=f"waited {total:g} s in {len(waits)} wait(s) with no network or payload "
            f"activity after them (longest {longest:g} s): "
            f"{_calls([e for _, e in waits if isinstance(e, TimedWait)])}",
            event_ids=tuple(event.seq for _, event in waits[:20]),
            process=index.chain(longest_event.pid, longest_event.seq)
            if longest_event.pid in index.procs
            else (),
        )
    ]
    # Several minutes in all (v04a: 35 min) is more than a service's start-up back-off.
    long_total = total >= LONG_TOTAL_SECONDS
    return (
        finding(
            "long-delay",
            NAME,
            evidence,
            severity=Severity.MEDIUM if long_total else None,
            confidence=Confidence.MEDIUM if long_total else None,
            why="The waits added up to several minutes." if long_total else "",
        ),
    )


def _without_timer_loops(waits: list[tuple[float, Event]]) -> list[tuple[float, Event]]:
    """Drop the waits of a process that waits long again and again: a daemon's timer (crond
    sleeps up to a minute, then checks its tables, forever) is its normal life, not a delay
    before a payload. One long wait, or many short ones adding up, stay."""
    long_waits = Counter(e.pid for seconds, e in waits if seconds >= LONG_WAIT_SECONDS / 2)
    loops = {pid for pid, count in long_waits.items() if count >= TIMER_LOOP_WAITS}
    return [(seconds, e) for seconds, e in waits if e.pid not in loops]


def _other_waits(index: RunIndex) -> list[tuple[float, Event]]:
    """Waits that are not sleeps: poll/select timeouts the tracer reported, and a
    `timeout N cmd` whose command was still blocked (a FIFO nobody writes) when the run ended."""
    waits: list[tuple[float, Event]] = []
    servers = {e.pid for e in index.events if isinstance(e, NetworkListened | NetworkBound)}
    for event in index.events:
        # a server idles in poll by design; a timed wait elsewhere is a delay (`read -t 600`)
        if isinstance(event, WaitTimedOut | WaitPending) and event.pid not in servers:
            waits.append((event.requested_seconds, event))
    for proc in index.procs.values():
        for exec_event in proc.execs:
            argv = exec_event.argv
            name = program(argv, exec_event.exe, exec_event.applet)
            if name != "timeout" or not exec_event.succeeded:
                continue
            seconds = _duration(next((a for a in argv[1:] if not a.startswith("-")), ""))
            if seconds and _ended_unfinished(index, proc):
                waits.append((seconds, exec_event))
    return waits


def _ended_unfinished(index: RunIndex, proc: Proc) -> bool:
    """Still running when the sandbox stopped the run: never exited, or SIGKILLed within a
    second of the run's last event (the sandbox's teardown, not the sample's own kill)."""
    if proc.exit_seq is None or proc.exited_at is None:
        return True
    end = index.events[-1].ts if index.events else proc.exited_at
    killed = any(
        isinstance(e, ProcessExited) and e.pid == proc.pid and e.signal == "SIGKILL"
        for e in index.events
        if e.seq == proc.exit_seq
    )
    return killed and end - proc.exited_at <= TEARDOWN_SECONDS


# "600", "10m", "1.5h", "2d": the duration argument of sleep and timeout
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> float:
    match = DURATION.match(text)
    return float(match.group(1)) * DURATION_UNITS[match.group(2)] if match else 0.0


def _waits_of(index: RunIndex, pending: list[Wait], actor: int, at: float) -> list[Wait]:
    """Sleeps on the actor's own line: by one of its ancestors, or a `sleep` one of them ran
    and waited for (it ended before the activity). A `timeout` polling its child, or another
    service's loop running alongside, does not delay this actor."""
    if not actor:
        return list(pending)
    line = set(index.ancestors(actor))
    waited = []
    for s in pending:
        sleeper = index.procs.get(s.pid)
        ran_and_waited = (
            sleeper is not None
            and sleeper.ppid in line
            and sleeper.exited_at is not None
            and sleeper.exited_at <= at
        )
        if s.pid in line or ran_and_waited:
            waited.append(s)
    return waited


def _is_activity(index: RunIndex, event: Event, written: set[str]) -> bool:
    """Reaching a non-local address, or running a file written during the run."""
    if isinstance(event, NetworkConnected):
        return (
            event.family in ("AF_INET", "AF_INET6")
            and event.port not in (0, DNS_PORT)
            and not index.is_local(event.address)
        )
    if isinstance(event, DnsQueried):
        return not event.name.endswith((".local", "localhost"))
    if isinstance(event, NetEvent) and not isinstance(event, DnsQueried):
        return bool(event.dst_ip) and not index.is_local(event.dst_ip)
    if isinstance(event, ProcessExecuted):
        return event.path in written
    return False


def _finding(index: RunIndex, sleeps: list[Wait], delay: float, first: Event) -> Finding:
    payload = _payload_after(index, first)
    evidence = [
        Evidence(
            description=f"waited {delay:g} s in {len(sleeps)} sleep(s) or timed wait(s) "
            f"(longest {max(s.requested_seconds for s in sleeps):g} s): {_calls(sleeps)}",
            event_ids=tuple(s.seq for s in sleeps[:20]),
            process=index.chain(sleeps[-1].pid, sleeps[-1].seq),
        ),
        Evidence(
            description=f"first activity after the wait: {_describe(index, first)}",
            event_ids=(first.seq,),
            process=index.chain(first.pid, first.seq) if first.pid else (),
            destination=_destination(index, first),
        ),
    ]
    if payload is not None:
        evidence.append(payload)
    return finding(
        "sleep-before-activity",
        NAME,
        evidence,
        severity=Severity.HIGH if payload is not None else None,
        why="The delay was followed by a payload." if payload is not None else "",
    )


def _calls(waits: Sequence[SleepSkipped | WaitTimedOut | WaitPending]) -> str:
    """`poll 900 s by /bin/waiter (pid 4711)`, the longest first, a few at most."""
    longest = sorted(waits, key=lambda w: -w.requested_seconds)[:3]
    text = ", ".join(
        f"{w.call} {w.requested_seconds:g} s by {w.exe or '?'} (pid {w.pid})" for w in longest
    )
    return text + (f" and {len(waits) - len(longest)} more" if len(waits) > len(longest) else "")


def _payload_after(index: RunIndex, first: Event) -> Evidence | None:
    """A download fed to a shell, a stratum login, or a file written and then executed."""
    written_at: dict[str, int] = {}
    checked: set[int] = set()
    for event in index.events[first.seq :]:
        if isinstance(event, StratumLogin) and not event.donation:
            return Evidence(
                description=f"then logged in to a mining pool as {event.wallet}",
                event_ids=(event.seq,),
                destination=index.net_destination(event),
            )
        if isinstance(event, NetworkConnected) and event.pid not in checked:
            checked.add(event.pid)
            for consumer in consumers(index, event.pid):
                return Evidence(
                    description=f"then fed a download to a shell ({consumer.how})",
                    event_ids=(event.seq, *index.procs[consumer.shell].exec_seqs),
                    process=index.chain(consumer.shell),
                    destination=index.destination(event.address, event.port),
                )
        if isinstance(event, FileOpenedForWrite):
            written_at.setdefault(event.path, event.seq)  # attempts count: intent is enough
        if isinstance(event, ProcessExecuted) and event.path in written_at:
            return Evidence(
                description="then ran a file written after the wait"
                + ("" if event.succeeded else f" (failed: {event.error})"),
                path=event.path,
                event_ids=(written_at[event.path], event.seq),
                process=index.chain(event.pid, event.seq),
            )
    return None


def _describe(index: RunIndex, event: Event) -> str:
    if isinstance(event, ProcessExecuted):
        return f"ran {event.path}, written during the run"
    if isinstance(event, DnsQueried):
        return f"resolved {event.name}"
    return "reached the network"


def _destination(index: RunIndex, event: Event) -> str:
    if isinstance(event, NetworkConnected):
        return index.destination(event.address, event.port)
    if isinstance(event, DnsQueried):
        return event.name
    if isinstance(event, NetEvent):
        return index.net_destination(event)
    return ""
