"""HTTP command and control: a program that polls one remote host for tasks, or reports the
host it runs on.

    GET /tasks?id=c8c7&n=0   sleep 3   GET /tasks?id=c8c7&n=1   sleep 3   GET /tasks?…
    POST /beacon  id=c8c7&uid=0&arch=x86_64

A poll is the same path (queries aside) requested again and again from one host. The sandbox
skips sleeps, so the cadence it sees is fast: regular means a skipped sleep between the polls
(or, when nothing slept, evenly spaced polls). Host facts are the output of id, uname or arch
in a query or a body, in the clear or inside a base64 or hex run (`d=TGludXggYzhj…`), and the
container's own host name. Loopback (health checks) and package mirrors (apt, apk, pip, npm) are
not command and control.

An IRC message that carries the same strong host facts (a bot announcing itself in its
channel: "up c8c7b7bf41bc uid=0") is a bot checking in (`irc-bot-check-in`).
"""

from __future__ import annotations

import base64
import binascii
import re
import statistics
from bisect import bisect_left
from collections import Counter, defaultdict
from functools import lru_cache
from itertools import pairwise
from urllib.parse import unquote_plus

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.events import SleepSkipped, WaitTimedOut
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.model.netevents import HttpRequested, IrcMessaged

NAME = "beaconing"
MIN_POLLS = 4
DECODED_URLS = 32  # requests to one host whose query strings are decoded
TIMER_MIN_SECONDS = 1.0  # a shorter timed-out wait is an event loop's tick, not a pause
STEADY_MIN_GAP = 1.0  # seconds between polls when no sleep was skipped …
STEADY_MAX_SPREAD = 0.3  # … and their standard deviation over their mean
PACKAGE_PATH = re.compile(
    r"/dists/|/pool/|\.(?:deb|apk|rpm|whl|tgz|gem|crate)$|APKINDEX|/repodata/|/simple/|/-/",
    re.I,
)
# Output of id, uname -m, uname -r / -a: uid=0(root) gid=0(root), x86_64, 6.1.0-18-amd64,
# "Linux c8c7b7bf41bc 6.1.0-18-amd64 #1 SMP …". One kind alone is no report: installers ask
# for ?os=Linux&arch=x86_64, web apps send ?uid=123; `id` output, or two kinds, are.
ID_OUTPUT = re.compile(r"uid=\d+\(\w+\)")
HOST_FACTS = {
    "user id": re.compile(r"(?:^|[^\w])uid=\d+"),
    "architecture": re.compile(
        r"\b(?:x86_64|amd64|aarch64|arm64|armv[5-8]l|i[3-6]86|mips(?:el)?)\b"
    ),
    "kernel": re.compile(
        r"\bLinux [\w.-]+ \d+\.\d+|\b\d+\.\d+\.\d+-\d+-(?:amd64|arm64|generic|cloud\w*)\b"
        # any kernel release as `uname -r` prints it: "6.1.0-18-amd64", "6.8.44-fc-v1098"
        r"|(?<![\w.])[3-6]\.\d{1,2}\.\d{1,3}-[A-Za-z0-9][\w.+~-]*"
    ),
    # the distribution, as /etc/os-release spells it
    "os release": re.compile(
        r"\b(?:PRETTY_NAME|VERSION_ID|VERSION_CODENAME)=|\bID=\"?(?:debian|ubuntu|alpine|centos"
        r"|rhel|fedora|rocky|almalinux|amzn)\b"
    ),
}
# Headers every client sends for itself (a browser's User-Agent names its architecture); the
# others (Cookie, X-Client-Data, custom ones) carry what the program put there.
OWN_HEADERS = frozenset(
    {
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "accept-language",
        "connection",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "cache-control",
        "pragma",
        "referer",
        "origin",
        "te",
        "upgrade",
        "expect",
    }
)

ENCODED_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
HEX_RUN = re.compile(r"\b(?:[0-9a-fA-F]{2}){8,}\b")
MIN_HOSTNAME = 6  # a shorter host name is too likely to occur by chance


class Beaconing:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        # skipped sleeps, and event-loop timers that ran out (Node's setTimeout, Go's timers)
        sleeps = sorted(
            e.ts
            for e in run.events
            if isinstance(e, SleepSkipped)
            or (isinstance(e, WaitTimedOut) and e.requested_seconds >= TIMER_MIN_SECONDS)
        )
        hostname = run.run.hostname if run.run is not None else ""
        by_host: dict[str, list[HttpRequested]] = defaultdict(list)
        for event in index.net_events:
            if isinstance(event, HttpRequested) and not _exempt(index, event):
                by_host[_host(event)].append(event)
        found = []
        for host, requests in by_host.items():
            polls, cadence = _polls(requests, sleeps)
            facts = _facts(requests, hostname)
            strong_facts = len({kind for kind, _ in facts}) >= 2 or any(
                ID_OUTPUT.search(_request_text(r)) for _, r in facts
            )
            if not cadence and not strong_facts:
                continue
            evidence = []
            if cadence:
                first = polls[0]
                pid = index.actor(first)
                evidence.append(
                    Evidence(
                        description=f"{len(polls)} requests for {first.method} "
                        f"{first.path.split('?', 1)[0]} on {host}, {cadence}",
                        event_ids=tuple(p.seq for p in polls[:20]),
                        process=index.chain(pid, first.seq) if pid else (),
                        destination=index.net_destination(first),
                        excerpt=f"{first.method} {first.url}",
                    )
                )
            if strong_facts:
                kinds = sorted({kind for kind, _ in facts})
                request = facts[0][1]
                pid = index.actor(request)
                evidence.append(
                    Evidence(
                        description=f"{request.method} to {host} carries the host's "
                        f"{' and '.join(kinds)}",
                        event_ids=tuple(sorted({r.seq for _, r in facts}))[:20],
                        process=index.chain(pid, request.seq) if pid else (),
                        destination=index.net_destination(request),
                        excerpt=f"{request.method} {request.url} {request.body_preview[:200]}",
                    )
                )
            both = bool(cadence) and strong_facts
            # A steady pace alone is every agent's (health, metrics, dynamic DNS): named, low.
            # What a beacon carries or what is done with its answers is what accuses.
            severity = Severity.HIGH if both else (None if strong_facts else Severity.LOW)
            found.append(
                finding(
                    "http-c2-beaconing",
                    NAME,
                    evidence,
                    severity=severity,
                    confidence=Confidence.HIGH if both else None,
                )
            )
        carried = [e for f in found for e in f.evidence if "carries the host's" in e.description]
        if carried:  # the discovery behind the facts, named (info), as for DNS beacons
            found.append(finding("host-facts-in-http-beacon", NAME, carried[:5]))
        check_in = _irc_check_in(index, hostname)
        if check_in is not None:
            found.append(finding("irc-bot-check-in", NAME, [check_in]))
        return tuple(found)


def _irc_check_in(index: RunIndex, hostname: str) -> Evidence | None:
    """The first IRC message that carries strong host facts."""
    for event in index.net_events:
        if not isinstance(event, IrcMessaged) or index.is_local(event.dst_ip):
            continue
        text = _readable(event.text)
        kinds = fact_kinds(text, hostname)
        if len(kinds) >= 2 or ID_OUTPUT.search(text):
            pid = index.actor(event)
            return Evidence(
                description=f"IRC message to {event.target} carries the host's "
                f"{' and '.join(kinds) or 'user id'}",
                event_ids=(event.seq,),
                process=index.chain(pid, event.seq) if pid else (),
                destination=index.net_destination(event),
                excerpt=event.text[:200],
            )
    return None


def _host(event: HttpRequested) -> str:
    return (event.host.rsplit(":", 1)[0] if event.host else "") or event.domain or event.dst_ip


def _exempt(index: RunIndex, event: HttpRequested) -> bool:
    host = _host(event).lower().strip("[]")
    if index.is_local(event.dst_ip) or index.is_local(host) or host in ("localhost", "::1"):
        return True
    return bool(PACKAGE_PATH.search(event.path.split("?", 1)[0]))


def _polls(requests: list[HttpRequested], sleeps: list[float]) -> tuple[list[HttpRequested], str]:
    """The requests of the most repeated path, and how their cadence was regular ("" if it
    was not, or they are too few). A beacon that asks for a new random path each time
    (`/js/97ca….woff2`, `/img/b763….js`) polls its host all the same: when no path repeats,
    the requests of one method to the host, each for a path of its own, are the polls."""
    paths = Counter((r.method, r.path.split("?", 1)[0]) for r in requests)
    (method, path), count = paths.most_common(1)[0]
    if count >= MIN_POLLS:
        polls = [r for r in requests if (r.method, r.path.split("?", 1)[0]) == (method, path)]
        how = ""
    else:
        methods = Counter(r.method for r in requests)
        method, count = methods.most_common(1)[0]
        polls = [r for r in requests if r.method == method]
        distinct = {r.path.split("?", 1)[0] for r in polls}
        if count < MIN_POLLS or len(distinct) < count:
            return [], ""
        how = "each for a path of its own, "
    gaps = list(pairwise(polls))
    slept = sum(1 for a, b in gaps if _slept_between(sleeps, a.ts, b.ts))
    if slept >= len(gaps) - 1:
        return polls, f"{how}a skipped sleep between {slept} of {len(gaps)} pairs of them"
    seconds = [b.ts - a.ts for a, b in gaps]
    mean = statistics.fmean(seconds)
    if mean >= STEADY_MIN_GAP and statistics.pstdev(seconds) <= STEADY_MAX_SPREAD * mean:
        return polls, f"{how}one every {mean:.1f} s"
    return [], ""


def _slept_between(sleeps: list[float], start: float, end: float) -> bool:
    i = bisect_left(sleeps, start)
    return i < len(sleeps) and sleeps[i] <= end


def _facts(requests: list[HttpRequested], hostname: str) -> list[tuple[str, HttpRequested]]:
    """(kind of host fact, request that carried it), from queries and bodies."""
    found = []
    for n, request in enumerate(requests):
        text = _request_text(request)
        if n < DECODED_URLS and not request.body_preview:
            # a GET's query decoded too (`?sid=4c696e75…`), for the first requests to a host
            # only: a flood's 100k unique URLs are read as sent
            text = _readable(text)
        found += [(kind, request) for kind in fact_kinds(text, hostname)]
    return found


def fact_kinds(text: str, hostname: str) -> tuple[str, ...]:
    """The kinds of host fact in `text` (the container's host name among them)."""
    kinds = [kind for kind, regex in HOST_FACTS.items() if regex.search(text)]
    if len(hostname) >= MIN_HOSTNAME and text and hostname.lower() in text.lower():
        kinds.append("host name")
    return tuple(kinds)


def _request_text(request: HttpRequested) -> str:
    """What a request carried, its body's and its own headers' encoded runs decoded (a GET's
    URL is read as sent: decoding every URL of a 100k-request flood costs more than it finds;
    a flood repeats its headers, decoded once)."""
    text = _sent_text(request)
    headers = "\n".join(
        _readable(str(value))
        for name, value in request.headers
        if str(name).lower() not in OWN_HEADERS and value
    )
    text = _readable(text) if request.body_preview else text
    return f"{text}\n{headers}" if headers else text


@lru_cache(maxsize=4096)  # a flood repeats one request: decode each text once
def _readable(text: str) -> str:
    """`text` and what its base64 and hex runs decode to (an encoded `uname -a` is still the
    kernel's name), one per line."""
    decoded = [text]
    for run in ENCODED_RUN.findall(text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                data = decode(run + "=" * (-len(run) % 4))
            except (binascii.Error, ValueError):
                continue
            decoded.append(data.decode("utf-8", "replace"))
            break
    for run in HEX_RUN.findall(text):
        decoded.append(bytes.fromhex(run).decode("utf-8", "replace"))
    return "\n".join(decoded)


def _sent_text(request: HttpRequested) -> str:
    query = request.path.split("?", 1)[1] if "?" in request.path else ""
    # as sent too: unquoting turns the "+" of a base64 body into spaces
    sent = unquote_plus(f"{query}\n{request.body_preview}") if query or request.body_preview else ""
    return f"{sent}\n{request.body_preview}" if request.body_preview else sent
