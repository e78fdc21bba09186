"""Turn a run's events into subjects for the YAML match language (fields: rules/subjects.py).

One pass over the stream in order. An event's actor (`process`, `parent`, `ancestors`) is the
program image that made it and its ancestors' images at that moment, from the run's timeline
(model/timeline.py): the program of the time, not the one the pid ended as. Simulator events
carry no pid until the pipeline attributes them; their actor fields are then empty.

    for subject in event_subjects(run):
        subject.name      # "exec", "file_change", "connect", …
        subject.get("path")
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from detonate.detect.correlations.places import SYSTEM_PACKAGE_MANAGERS
from detonate.detect.interface import RunView
from detonate.model.events import (
    DataWritten,
    Event,
    FileAttributesChanged,
    FileCreated,
    FileDeleted,
    FileModeChanged,
    FileOpenedForRead,
    FileOpenedForWrite,
    FileRenamed,
    FileTimesChanged,
    NetworkBound,
    NetworkConnected,
    NetworkListened,
    PrivilegedAttempt,
    ProcessExecuted,
    ProcessRenamed,
    SignalSent,
    SleepSkipped,
)
from detonate.model.netevents import (
    BytesSunk,
    Connected,
    DatagramSunk,
    DnsQueried,
    DockerApiCalled,
    HttpRequested,
    IrcJoined,
    IrcMessaged,
    NetEvent,
    StratumLogin,
    TlsHello,
)
from detonate.model.runtime import ChangeKind
from detonate.model.timeline import Cursor, ImageId, ProgramImage, Timeline

# "127.0.0.1", "::1", "::ffff:127.0.0.2", "0.0.0.0": the container itself
LOOPBACK = re.compile(r"^(127\.|::1$|::ffff:127\.|localhost$|0\.0\.0\.0$)")
# /proc/self/fd/3, /proc/1234/fd/3, /dev/fd/3, memfd:payload, /memfd:x (deleted)
FILELESS_PATH = re.compile(r"^(?:/proc/(?:self|\d+)/fd/\d+|/dev/fd/\d+|/?memfd:)")
# Busybox and its kin re-exec themselves through this path; the applet names the program.
SELF_EXE = ("/proc/self/exe",)
MULTI_CALL = re.compile(r"^(?:busybox|toybox)(?:[.-].*)?$")
MAX_ANCESTORS = 32
# Programs whose copy under another name hides a download, a shell or a relay.
KNOWN_TOOLS = frozenset(
    {
        "wget",
        "curl",
        "nc",
        "ncat",
        "netcat",
        "socat",
        "sh",
        "bash",
        "ash",
        "dash",
        "python3",
        "perl",
        "ssl_client",
        "openssl",
        "tftp",
        "ftp",
        "telnet",
        "base64",
    }
)


@dataclass(frozen=True)
class EventSubject:
    """One thing a rule can match: `name` is the subject ("exec"), `fields` its values."""

    name: str
    event: Event
    fields: Mapping[str, object]
    chain: tuple[str, ...] = ()  # command lines of the actor's ancestors and itself
    summary: str = ""  # one line for the evidence: "exec /tmp/x -o pool.test:3333"
    destination: str = ""  # "pool.test:3333 (198.18.0.1)" for network subjects

    def get(self, field: str) -> object:
        return self.fields.get(field)


@dataclass(frozen=True)
class _Actor:
    """A program image as rules see it: its name, file and command line."""

    name: str
    path: str
    cmdline: str


def _actor(image: ProgramImage) -> _Actor:
    if image.exec_event is not None or image.path:  # exec'd, or a forked copy of an exec
        name = program_name(image.path, image.exe, image.applet, image.argv)
        return _Actor(name, image.exe or image.path, " ".join(image.argv))
    # running before its first traced exec: as its first event showed it
    name = posixpath.basename(image.argv[0]) if image.argv else base(image.exe)
    return _Actor(name, image.exe, " ".join(image.argv))


@dataclass
class _KnownTools:
    """Known tools by the content of their binaries, to recognise a renamed copy."""

    # sha256 of a known tool's binary → its name, from every exec of the run that ran it
    # under its own name (busybox, wget, curl, nc …)
    tools_by_sha: dict[str, str] = field(default_factory=dict)

    def learn_tools(self, events: tuple[Event, ...]) -> None:
        for event in events:
            if isinstance(event, ProcessExecuted) and event.exe_sha256:
                name = base(event.exe_resolved or event.exe)
                if name in KNOWN_TOOLS or MULTI_CALL.match(name):
                    self.tools_by_sha.setdefault(event.exe_sha256, name)

    def copy_of(self, event: ProcessExecuted) -> str:
        """The known tool whose binary this exec ran under another file name ("" if none)."""
        tool = self.tools_by_sha.get(event.exe_sha256, "") if event.exe_sha256 else ""
        own = base(event.exe_resolved or event.exe or event.path)
        # a hard link of busybox named like its applet ("sh") is an install, not a disguise
        legit = own == tool or own == event.applet or own in KNOWN_TOOLS or MULTI_CALL.match(own)
        return tool if tool and not legit else ""


def base(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) if path else ""


def program_name(path: str, exe: str, applet: str, argv: tuple[str, ...]) -> str:
    """The program that really ran: the multi-call applet, else the file's name."""
    if applet:
        return applet
    if path in SELF_EXE or FILELESS_PATH.match(path):
        return base(exe) or (base(argv[0]) if argv else "")
    return base(path) or base(exe)


def shown_name(argv: tuple[str, ...]) -> str:
    """argv[0] as `ps` shows it: its file name, or all of it when it poses as a kernel thread
    ("[kworker/0:1]")."""
    if not argv:
        return ""
    return argv[0] if argv[0].startswith("[") else base(argv[0])


def is_renamed(path: str, applet: str, argv: tuple[str, ...]) -> bool:
    """A program run under another name than its file's: `exec -a wget /x/ntpupd`, a busybox
    copy named like a daemon, argv[0] set to "[kworker/0:1]"."""
    if path in SELF_EXE or FILELESS_PATH.match(path) or not path:
        return False
    name = base(path)
    if MULTI_CALL.match(name):
        return False  # busybox picks its applet from argv[0]: `busybox` run as `ssl_client`
    if applet and name != applet:
        return True
    shown = shown_name(argv) or name
    return bool(shown) and shown != name and not shown.startswith("-")  # "-sh": a login shell


@dataclass(frozen=True)
class LocalAddresses:
    """Loopback and the container's own address and hostname: a `connect` there has
    `local: true` (a health check or a self-scrape, never a remote peer)."""

    own: frozenset[str]

    def contains(self, address: str) -> bool:
        return bool(LOOPBACK.match(address)) or address in self.own


def event_subjects(run: RunView) -> Iterator[EventSubject]:
    """Every subject the run's events make, in stream order."""
    timeline = run.timeline
    cursor = timeline.cursor()
    actors: dict[ImageId, _Actor] = {}  # each image's name and command line, computed once
    tools = _KnownTools()
    tools.learn_tools(run.events)
    written = {c.path for c in run.files if c.change is not ChangeKind.DELETED}
    origins = _exec_origins(run)
    flows = _FlowNames(run.events)
    own = (*run.run.addresses, run.run.hostname) if run.run is not None else ()
    local = LocalAddresses(frozenset(a for a in own if a))
    for event in run.events:
        cursor.at(event.seq)
        known: tuple[dict[str, object], tuple[str, ...]] | None = None
        for name, fields, summary, destination in _describe(event, written, flows, tools, timeline):
            if name == "connect":
                fields["local"] = local.contains(str(fields["address"]))
            if name == "exec":
                written_here = bool(origins) and bool(fields["created_in_run"])
                fields["provenance"] = origins.get(event.seq, "local" if written_here else "")
            known = known or _actor_fields(cursor, actors, event)
            actor_fields, chain = known
            fields = {
                **actor_fields,
                "succeeded": getattr(event, "succeeded", True),
                "error": getattr(event, "error", ""),
                **fields,
            }
            yield EventSubject(name, event, fields, chain, summary, destination)
        if isinstance(event, FileOpenedForWrite | FileCreated) and event.succeeded:
            written.add(event.path)
        elif isinstance(event, FileRenamed) and event.succeeded:
            written.add(event.new_path)


Described = tuple[str, dict[str, object], str, str]


def _actor_fields(
    cursor: Cursor, actors: dict[ImageId, _Actor], event: Event
) -> tuple[dict[str, object], tuple[str, ...]]:
    """The fields naming who made `event` (its image and ancestors then) and the chain."""
    images = cursor.lineage(event.pid, MAX_ANCESTORS) if event.pid else []
    lineage = [actors.get(i.id) or actors.setdefault(i.id, _actor(i)) for i in images]
    actor = lineage[0] if lineage else None
    fields: dict[str, object] = {
        "process": actor.name if actor else "",
        "process_path": actor.path if actor else event.exe,
        "cmdline": actor.cmdline if actor else " ".join(event.argv),
        "parent": lineage[1].name if len(lineage) > 1 else "",
        "ancestors": tuple(p.name for p in lineage[1:]),
        "installer": any(p.name in SYSTEM_PACKAGE_MANAGERS for p in lineage),
    }
    return fields, tuple(p.cmdline for p in reversed(lineage) if p.cmdline)


def _exec_origins(run: RunView) -> dict[int, str]:
    """Exec seq → where the bytes it ran came from ("network", "decoded"; both: "network"),
    for the execs of files the run wrote. Empty for traces without DataWritten, where an exec
    of a written file is not known to be "local"."""
    from detonate.detect.provenance import (  # provenance uses the index
        DECODED,
        NETWORK,
        provenance_of,
    )

    if not any(isinstance(e, DataWritten) for e in run.events):
        return {}
    origins: dict[int, str] = {-1: ""}  # non-empty: the trace can tell "local"
    for sink in provenance_of(run).sinks:
        if sink.how in ("exec", "script") and sink.taint.kind in (NETWORK, DECODED):
            if origins.get(sink.seq) == NETWORK:
                continue
            origins[sink.seq] = sink.taint.kind
    return origins


def _describe(
    event: Event, written: set[str], flows: _FlowNames, tools: _KnownTools, timeline: Timeline
) -> Iterator[Described]:
    if isinstance(event, ProcessExecuted):
        name = program_name(event.path, event.exe, event.applet, event.argv)
        failed = "" if event.succeeded else f" (failed: {event.error or 'error'})"
        yield (
            "exec",
            {
                "path": event.path,
                "name": name,
                "applet": event.applet,
                "argv0": shown_name(event.argv),
                "argv": event.argv,
                "args": " ".join(event.argv[1:]),
                "created_in_run": event.path in written,
                "provenance": "",
                "fileless": bool(FILELESS_PATH.match(event.path) or FILELESS_PATH.match(event.exe)),
                "renamed": is_renamed(event.path, event.applet, event.argv),
                "copy_of": tools.copy_of(event),
                "stdin": event.stdin,
                "stdout": event.stdout,
                "stderr": event.stderr,
            },
            f"exec {event.path}: {' '.join(event.argv)}{failed}",
            "",
        )
    elif isinstance(event, ProcessRenamed):
        image = timeline.image_of(event)
        current = _actor(image) if image is not None else None
        own = current.name if current else base(event.exe)
        # comm is cut to 15 characters: "systemd-journal" is systemd-journald's own name
        differs = bool(own) and not own.startswith(event.name) and own != event.name
        yield (
            "comm",
            {"comm": event.name, "differs": differs},
            f"prctl(PR_SET_NAME, {event.name!r})" + (f" by {own}" if own else ""),
            "",
        )
    elif isinstance(event, FileOpenedForRead):
        yield (
            "read",
            {"path": event.path, "name": base(event.path), "honeytoken": event.honeytoken},
            f"read {event.path}"
            + (f" (honeytoken {event.honeytoken})" if event.honeytoken else ""),
            "",
        )
    elif file := _file_fields(event):
        yield ("file_change", file, _file_summary(file), "")
        if isinstance(event, FileRenamed) and event.new_path:
            # `sed -i`, `mv tmp target`: the destination's content is replaced, a write to it
            dest = event.new_path
            replaced: dict[str, object] = {
                "op": "write",
                "path": dest,
                "name": base(dest),
                "dir": posixpath.dirname(dest),
                "flags": "",
                "truncated": True,
                "append": False,
                "renamed_from": event.path,
            }
            yield ("file_change", replaced, f"replace {dest} (renamed from {event.path})", "")
    elif isinstance(event, NetworkConnected):
        domain, protocol = flows.of(event)
        where = _where(domain, event.address, event.port)
        yield (
            "connect",
            {
                "family": event.family,
                "transport": event.protocol,
                "address": event.address,
                "port": event.port,
                "domain": domain,
                "protocol": protocol,
            },
            f"connect {where}" + ("" if event.succeeded else f" (failed: {event.error})"),
            where,
        )
    elif isinstance(event, NetworkBound | NetworkListened):
        what = "bind" if isinstance(event, NetworkBound) else "listen"
        yield (
            "listen",
            {"address": event.address, "port": event.port, "transport": event.protocol},
            f"{what} {event.address or '*'}:{event.port}",
            "",
        )
    elif isinstance(event, SignalSent):
        target = (
            timeline.image_at(event.target_host_pid, event.seq) if event.target_host_pid else None
        )
        victim = _actor(target) if target is not None else None
        yield (
            "signal",
            {
                "signal": event.signal,
                "target_pid": event.target_pid,
                "target": victim.name if victim else "",
                "group": event.target_pid <= 0,
            },
            f"kill({event.target_pid}, {event.signal})" + (f" of {victim.name}" if victim else ""),
            "",
        )
    elif isinstance(event, PrivilegedAttempt):
        failed = "" if event.succeeded else f" (failed: {event.error or 'error'})"
        yield (
            "privileged",
            {
                "call": event.call,
                "args": event.args,
                "path": event.path,
                "source": event.source,
                "fstype": event.fstype,
                "request": event.request,
                "flags": event.flags,
                "name": event.name,
                "target_pid": event.target_pid,
                "device": _device(event),
            },
            f"{event.call}({event.args}){failed}",
            "",
        )
    elif isinstance(event, SleepSkipped):
        yield (
            "sleep",
            {"call": event.call, "seconds": int(event.requested_seconds)},
            f"{event.call} of {event.requested_seconds:g} s skipped",
            "",
        )
    elif isinstance(event, NetEvent):
        yield from _describe_net(event)


def _file_fields(event: Event) -> dict[str, object] | None:
    extra: dict[str, object]
    if isinstance(event, FileOpenedForWrite):
        op = "write"
        extra = {"flags": event.flags, "truncated": event.truncated, "append": event.append}
    elif isinstance(event, FileCreated):
        op, extra = "create", {"file_type": event.file_type, "target": event.target}
    elif isinstance(event, FileDeleted):
        op, extra = "delete", {"file_type": "dir" if event.is_dir else ""}
    elif isinstance(event, FileRenamed):
        op, extra = "rename", {"new_path": event.new_path}
    elif isinstance(event, FileModeChanged):
        op, extra = "chmod", {"mode": event.mode}
    elif isinstance(event, FileAttributesChanged):
        op, extra = "chattr", {"flags": event.flags, "attributes": event.attributes}
    elif isinstance(event, FileTimesChanged):
        op, extra = "times", {"now": event.now}
        if event.modify_age is not None:
            extra["age"] = int(event.modify_age)
    else:
        return None
    path: str = getattr(event, "path", "")
    return {"op": op, "path": path, "name": base(path), "dir": posixpath.dirname(path), **extra}


def _device(event: PrivilegedAttempt) -> str:
    """mknod of a device: "block 8:1", "char 1:1"; other nodes their type; "" otherwise."""
    if event.node_type in ("block", "char"):
        return f"{event.node_type} {event.device_major}:{event.device_minor}"
    return event.node_type


def _file_summary(file: Mapping[str, object]) -> str:
    op, path = file["op"], file["path"]
    if op == "rename":
        return f"rename {path} → {file['new_path']}"
    if op == "chmod":
        return f"chmod {int(str(file['mode'])):o} {path}"
    if op == "times":
        age = file.get("age")
        return f"set times of {path}" + (f" to {age} s before the call" if age else " to now")
    if op == "create" and file.get("target"):
        return f"create {file['file_type']} {path} → {file['target']}"
    if op in ("write", "chattr") and file.get("flags"):
        return f"{op} {path} ({file['flags']})"
    return f"{op} {path}"


def _where(domain: str, address: str, port: int) -> str:
    if domain:
        return f"{domain}:{port} ({address})"
    return f"{address}:{port}" if port else address


def _describe_net(event: NetEvent) -> Iterator[Described]:
    net = {"port": event.dst_port, "address": event.dst_ip, "domain": event.domain}
    where = _where(event.domain, event.dst_ip, event.dst_port)
    if isinstance(event, DnsQueried):
        yield (
            "dns",
            {
                "name": event.name,
                "qtype": event.qtype,
                "rcode": event.rcode,
                "answers": event.answers,
            },
            f"DNS {event.qtype} {event.name}",
            event.name,
        )
    elif isinstance(event, HttpRequested):
        headers = {k.lower(): v for k, v in event.headers}
        yield (
            "http",
            {
                **net,
                "method": event.method,
                "host": event.host,
                "path": event.path,
                "url": event.url,
                "user_agent": headers.get("user-agent", ""),
                "authorization": headers.get("authorization", "").split(" ")[0],
                "body": event.body_preview,
                "tls": event.tls,
            },
            f"HTTP {event.method} {event.url}",
            where,
        )
    elif isinstance(event, TlsHello):
        yield ("tls", {**net, "sni": event.sni, "alpn": event.alpn}, f"TLS to {where}", where)
    elif isinstance(event, StratumLogin):
        yield (
            "stratum",
            {
                **net,
                "wallet": event.wallet,
                "login": event.login,
                "password": event.password,
                "agent": event.agent,
                "algos": event.algos,
                "dialect": event.dialect,
                "tls": event.tls,
                "donation": event.donation,
            },
            f"stratum login {event.wallet} to {where}",
            where,
        )
    elif isinstance(event, IrcJoined | IrcMessaged):
        joined = isinstance(event, IrcJoined)
        yield (
            "irc",
            {
                **net,
                "op": "join" if joined else "message",
                "nick": event.nick,
                "user": event.user if isinstance(event, IrcJoined) else "",
                "channel": event.channel if isinstance(event, IrcJoined) else "",
                "target": event.target if isinstance(event, IrcMessaged) else "",
                "text": event.text if isinstance(event, IrcMessaged) else "",
            },
            f"IRC {'join' if joined else 'message'} as {event.nick} on {where}",
            where,
        )
    elif isinstance(event, DockerApiCalled):
        yield (
            "docker_api",
            {
                **net,
                "method": event.method,
                "path": event.path,
                "operation": event.operation,
                "image": event.image,
                "cmd": event.cmd,
                "privileged": event.privileged,
                "binds": event.binds,
            },
            f"Docker API {event.method} {event.path} ({event.operation or 'call'}) on {where}",
            where,
        )
    elif isinstance(event, BytesSunk | DatagramSunk):
        yield (
            "sunk",
            {
                **net,
                "preview": event.preview,
                "bytes": event.bytes_total,
                "transport": event.transport,
            },
            f"{event.bytes_total} bytes sent to {where}",
            where,
        )


class _FlowNames:
    """Name and protocol of each syscall connect, from the simulator's `Connected` events to the
    same destination, paired in order (the n-th connect to 198.18.0.1:80 is the n-th flow)."""

    def __init__(self, events: tuple[Event, ...]) -> None:
        self._flows: dict[tuple[str, int], deque[tuple[str, str]]] = defaultdict(deque)
        for event in events:
            if isinstance(event, Connected):
                self._flows[(event.dst_ip, event.dst_port)].append((event.domain, event.protocol))

    def of(self, event: NetworkConnected) -> tuple[str, str]:
        queue = self._flows.get((event.address, event.port))
        if not queue or not event.succeeded:
            return "", ""
        return queue.popleft()
