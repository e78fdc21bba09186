"""Follow bytes from where they entered the run to where they ran, in event order.

A *program image* is (pid, exec generation), as the run's timeline has it (model/timeline.py):
a shell that wrote a file and later exec'd a miner is two images, and what the miner received
says nothing of what the shell wrote. Taint has two
kinds: NETWORK (bytes received from a non-local peer) and DECODED (the output of a decoder).

Sources
    an image's connect to a non-local address (not DNS): it may now hold network bytes;
    a decoder's exec (decoders.py): what it writes is decoded.
Propagation (each hop only after the holder was tainted: cause before effect)
    image → file or pipe     DataWritten by a tainted image (legacy traces without
                             DataWritten: a write open by a tainted image)
    pipe → image             an image whose stdin is that pipe
    file → image             FileOpenedForRead of a tainted file (cp, sed FILE, sh FILE)
    file → file              rename, hard link; a truncating open by an untainted image or a
                             delete clears the file
    image → forked child     the child is a copy of the parent until it execs
    file → image             the image exec'd from a tainted file runs those bytes
Sinks
    exec of a tainted file; a shell or interpreter given a tainted file as its script; a shell
    or interpreter reading its program from a tainted stdin pipe.

Not followed: bytes through sockets between processes of the run, shared memory or mmap,
environment variables and argv (a `$( … )` into `sh -c` is pipelines.py's), fds other than
stdin read by an interpreter (`bash <(curl …)`, pipelines.py again), reads from a tainted
file descriptor inherited without an open, and what a process does with bytes in memory
(any write of a tainted image is taken as carrying them).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from detonate.detect.correlations.pipelines import runs_shell_code_name, script_argument
from detonate.detect.correlations.run_index import RunIndex, index_of, program
from detonate.detect.interface import RunView
from detonate.detect.provenance.collected import (
    METADATA_ADDRESSES,
    PROCESS_DISCOVERY,
    copies,
    credential_kind,
    discovery_read_technique,
    discovery_technique,
    metadata_credentials,
    stored_credential,
)
from detonate.detect.provenance.decoders import decodes
from detonate.model.events import (
    DataWritten,
    Event,
    FileCreated,
    FileDeleted,
    FileOpenedForRead,
    FileOpenedForWrite,
    FileRenamed,
    NetworkConnected,
    NetworkSent,
    ProcessExecuted,
    ProcessForked,
)
from detonate.model.netevents import HttpRequested
from detonate.model.timeline import ImageId
from detonate.model.watched_reads import STORED_CREDENTIAL_KINDS, read_kind

NETWORK = "network"
DECODED = "decoded"
SECRET = "secret"  # credential material read (collected.credential_kind)
HOST_FACTS = "host-facts"  # output of discovery programs, files describing the host
# Archive extractors: they read the decompressor they start (`tar -xzf`: gzip -d's output)
EXTRACTORS = frozenset({"tar", "gtar", "bsdtar", "cpio", "pax"})
COLLECTED = (SECRET, HOST_FACTS)  # followed to sends ("sent" sinks), not to execs
STORED_FAMILIES = 2  # tools whose credential files one image read: collection
MAX_SUBSHELLS = 4  # forked copies a captured output is followed up through
DNS_PORT = 53
MAX_HOPS = 12  # a chain longer than this keeps its first hops (evidence stays readable)
Image = ImageId  # (pid, exec generation): the timeline's


@dataclass(frozen=True)
class Hop:
    """One step the bytes took: an event, who did it, what it did."""

    seq: int
    pid: int
    what: str  # "connected to 192.0.2.1:80", "wrote /tmp/x", "read /tmp/x", "renamed …"
    path: str = ""


@dataclass(frozen=True)
class Taint:
    kind: str  # NETWORK or DECODED
    hops: tuple[Hop, ...]  # from the source (hops[0]) to the current holder

    @property
    def source(self) -> Hop:
        return self.hops[0]

    def then(self, hop: Hop) -> Taint:
        if len(self.hops) >= MAX_HOPS:
            return self
        return Taint(self.kind, (*self.hops, hop))


@dataclass(frozen=True)
class Sink:
    """Tainted bytes ran: `how` is "exec" (the file was executed), "script" (a shell or
    interpreter ran the file) or "pipe" (it read its program from the tainted stdin); or
    collected bytes left: "sent" (a tainted image sent on a non-local connection; `path` is
    the destination)."""

    how: str
    seq: int  # the exec, the script's read open, or the write that fed the pipe
    pid: int  # the image that ran the bytes
    path: str  # the file run, or the pipe
    taint: Taint
    succeeded: bool = True  # False: the exec of the tainted file failed (the intent shows)


@dataclass
class Provenance:
    sinks: list[Sink] = field(default_factory=list)
    # what each program image held at the end of the walk (each taint's last hop is when it
    # came): for acts that are no send, such as names asked of DNS
    held: dict[ImageId, dict[str, Taint]] = field(default_factory=dict)

    def held_before(self, image: ImageId, kind: str, seq: int) -> Taint | None:
        """The taint of `kind` `image` held before event `seq`, if any."""
        taint = self.held.get(image, {}).get(kind)
        return taint if taint is not None and taint.hops[-1].seq < seq else None

    def of_kind(self, kind: str) -> list[Sink]:
        return [s for s in self.sinks if s.taint.kind == kind]


def provenance_of(run: RunView) -> Provenance:
    """The run's sinks, computed once per view and shared (like the run index)."""
    found = run.derived.get("provenance")
    if not isinstance(found, Provenance):
        found = run.derived["provenance"] = _Walk(index_of(run)).run()
    return found


Taints = dict[str, Taint]  # kind → the first taint of that kind


class _Walk:
    def __init__(self, index: RunIndex) -> None:
        self.index = index
        self.timeline = index.timeline
        self.images: dict[Image, Taints] = {}
        self.files: dict[str, Taints] = {}
        self.pipes: dict[str, Taints] = {}
        self.readers: dict[str, list[tuple[Image, ProcessExecuted]]] = {}  # pipe → stdin readers
        self.opened: dict[Image, list[str]] = {}  # legacy traces: files an image opened to write
        self.legacy = not any(isinstance(e, DataWritten) for e in index.events)
        self.result = Provenance(held=self.images)
        self.stores: dict[Image, dict[str, Hop]] = {}  # credential files read, by tool
        self._sunk: set[tuple[str, int, str, bool]] = set()

    def run(self) -> Provenance:
        for event in self.index.events:
            self._take(event)
        return self.result

    def _image(self, event: Event) -> Image:
        """The image that made `event` (the timeline's attribution)."""
        image = self.timeline.image_of(event)
        return image.id if image is not None else ImageId(event.pid, 0)

    def _running(self, image: Image, seq: int) -> bool:
        """`image` is still what its pid runs at `seq` (it has not exec'd another program)."""
        current = self.timeline.image_at(image.pid, seq)
        return current is not None and current.id == image

    def _exec_of(self, image: Image) -> ProcessExecuted | None:
        found = self.timeline.images.get(image)
        return found.exec_event if found is not None else None

    def _forked_from(self, image: Image) -> Image | None:
        """The image whose traced fork made `image`'s process."""
        first = self.timeline.images_of(image.pid)
        found = self.timeline.images.get(image)
        if found is None or not first or first[0].fork_event is None:
            return None
        return found.parent

    def _take(self, event: Event) -> None:
        if isinstance(event, ProcessForked) and event.child_pid:
            parent = self.images.get(self._image(event), {})
            child = self.timeline.image_at(event.child_pid, event.seq)
            if child is None:
                return
            self.images[child.id] = {
                kind: taint.then(Hop(event.seq, event.child_pid, "forked from a tainted image"))
                for kind, taint in parent.items()
            }
        elif isinstance(event, ProcessExecuted):
            if event.succeeded:
                self._exec(event)
            else:
                for taint in self.files.get(event.path, {}).values():
                    self._sink("exec", event.seq, event.pid, event.path, taint, succeeded=False)
        elif isinstance(event, NetworkConnected):
            self._connect(event)
        elif isinstance(event, NetworkSent):
            self._send(event)
        elif isinstance(event, DataWritten):
            self._written(event.seq, self._image(event), event.path)
        elif isinstance(event, FileOpenedForWrite):
            image = self._image(event)
            if self.legacy and event.succeeded:
                self.opened.setdefault(image, []).append(event.path)
            if self.legacy or not event.succeeded:
                # a failed open (no /var/tmp in the image) still shows where the bytes were
                # meant to go: its exec, failing too, is the same intent
                tried = "" if event.succeeded else f"tried to write {event.path} ({event.error})"
                self._written(event.seq, image, event.path, tried)
            elif event.truncated and not self.images.get(image):
                self.files.pop(event.path, None)  # replaced by clean bytes (or none yet)
        elif isinstance(event, FileOpenedForRead) and event.succeeded:
            self._collect(event)
            self._read(event)
        elif isinstance(event, FileRenamed) and event.succeeded:
            taints = self.files.pop(event.path, None)
            if taints:
                hop = Hop(event.seq, event.pid, f"renamed to {event.new_path}", event.new_path)
                self.files[event.new_path] = {k: t.then(hop) for k, t in taints.items()}
            else:
                self.files.pop(event.new_path, None)
        elif isinstance(event, FileCreated) and event.succeeded and event.file_type == "hardlink":
            taints = self.files.get(event.target)
            if taints:
                hop = Hop(event.seq, event.pid, f"linked as {event.path}", event.path)
                self.files[event.path] = {k: t.then(hop) for k, t in taints.items()}
        elif isinstance(event, FileDeleted) and event.succeeded:
            self.files.pop(event.path, None)
        elif isinstance(event, HttpRequested) and metadata_credentials(event.dst_ip, event.path):
            self._metadata_credentials(event)

    # -- sources ---------------------------------------------------------------------------

    def _connect(self, event: NetworkConnected) -> None:
        if event.family not in ("AF_INET", "AF_INET6") or not event.port:
            return
        if event.port == DNS_PORT or self.index.is_local(event.address):
            return
        if not (event.succeeded or event.error == "EINPROGRESS"):
            return
        where = self.index.destination(event.address, event.port)
        hop = Hop(event.seq, event.pid, f"connected to {where}")
        self._taint_image(self._image(event), Taint(NETWORK, (hop,)))

    def _exec(self, event: ProcessExecuted) -> None:
        pid = event.pid
        image = self._image(event)
        self.images[image] = {}
        name = program(event.argv, event.exe, event.applet)
        if event.stdin.startswith("pipe:"):
            self.readers.setdefault(event.stdin, []).append((image, event))
            for taint in self.pipes.get(event.stdin, {}).values():
                self._fed(image, event, taint, event.seq)
        if event.stdin.startswith("/"):  # `gzip -d < f`, `sh < f`: it reads the file
            for taint in list(self.files.get(event.stdin, {}).values()):
                self._fed(image, event, taint, event.seq)
        peer = _socket_peer(event.stdin)
        remote = peer is not None and peer[1] != DNS_PORT and not self.index.is_local(peer[0])
        if peer is not None and remote and not runs_shell_code_name(name):
            # `sed … <&3` after `exec 3<>/dev/tcp/host/80`: it reads the connection itself
            # (a shell reading one is a remote shell: exec-shell-on-socket)
            where = self.index.destination(*peer)
            hop = Hop(event.seq, pid, f"its standard input is a connection to {where}")
            self._taint_image(image, Taint(NETWORK, (hop,)))
        for path in {event.path, event.exe, event.exe_resolved} - {""}:
            for taint in self.files.get(path, {}).values():
                self._sink("exec", event.seq, pid, path, taint)
                self._taint_image(image, taint.then(Hop(event.seq, pid, "ran it", path)))
        script = script_argument(event.argv) if runs_shell_code_name(name) else None
        if script:
            for path, taints in list(self.files.items()):
                if _names(script, path):
                    for taint in taints.values():
                        self._sink("script", event.seq, pid, path, taint)
                        hop = Hop(event.seq, pid, f"{name} ran it as its script", path)
                        self._taint_image(image, taint.then(hop))
        if decodes(name, event.argv):
            hop = Hop(event.seq, pid, f"decoder {name} started")
            self._taint_image(image, Taint(DECODED, (hop,)))
        technique = discovery_technique(name, event.argv, event.path, event.applet)
        if technique:
            hop = Hop(event.seq, pid, f"ran {' '.join(event.argv)[:80]} ({technique})")
            self._taint_image(image, Taint(HOST_FACTS, (hop,)))

    def _collect(self, event: FileOpenedForRead) -> None:
        """A read of credential material or of a file describing the host taints the reader."""
        exec_event = self._exec_of(self._image(event))
        argv = exec_event.argv if exec_event else event.argv
        reader = program(argv, exec_event.exe if exec_event else event.exe)
        secret = credential_kind(event, reader)
        if secret:
            hop = Hop(event.seq, event.pid, f"read {event.path} ({secret})", event.path)
            self._taint_image(self._image(event), Taint(SECRET, (hop,)))
        family = stored_credential(event.path, reader)
        if family:
            self._stored(event, family, copies(reader, argv))
        technique = discovery_read_technique(event.path)
        # A /proc walk is named (discovery) but taints nothing: monitoring agents walk /proc
        # to count and measure processes and send the figures; it still counts towards a
        # survey when a process also sends other host facts (exfiltration._techniques).
        if technique and technique != PROCESS_DISCOVERY:
            hop = Hop(event.seq, event.pid, f"read {event.path} ({technique})", event.path)
            self._taint_image(self._image(event), Taint(HOST_FACTS, (hop,)))

    def _stored(self, event: FileOpenedForRead, family: str, copier: bool) -> None:
        """A client's credential file read: collected when the reader copies bytes (tar, cat,
        nc) or has now read the credential files of STORED_FAMILIES tools."""
        image = self._image(event)
        what = "private key" if family == "pki-key" else f"{family} credentials"
        hop = Hop(event.seq, event.pid, f"read {event.path} ({what})", event.path)
        families = self.stores.setdefault(image, {})
        first = families.setdefault(family, hop)
        if copier:
            self._taint_image(image, Taint(SECRET, (hop,)))
        elif first is hop and len(families) >= STORED_FAMILIES:
            earlier = next(iter(families.values()))  # the first tool's file
            self._taint_image(image, Taint(SECRET, (earlier, hop)))

    def _metadata_credentials(self, event: HttpRequested) -> None:
        """Credentials asked of a cloud metadata service: its answer is a secret the asker
        holds (the simulator answers with fake ones)."""
        pid = self.index.actor(event)
        if pid:
            path = event.path.split("?", 1)[0]
            hop = Hop(event.seq, pid, f"asked {event.dst_ip} for {path} (cloud credentials)")
            image = self.timeline.image_at(pid, event.seq)  # the asker when it asked
            self._taint_image(image.id if image else ImageId(pid, 0), Taint(SECRET, (hop,)))

    def _send(self, event: NetworkSent) -> None:
        """Collected bytes leave: a tainted image puts bytes on a non-local connection (DNS
        aside: names are judged by their shape, correlations/dns_tunnel.py)."""
        taints = self.images.get(self._image(event))
        if not taints or not (SECRET in taints or HOST_FACTS in taints):
            return
        if event.family not in ("AF_INET", "AF_INET6") or not event.port:
            return
        if self.index.is_local(event.address) or not event.succeeded:
            return
        # names are judged by their shape; a TCP stream to port 53 may carry anything (a
        # program that sendfile()s /etc/shadow there), so only DNS over UDP is left out
        if event.port == DNS_PORT and event.protocol != "TCP":
            return
        if event.address in METADATA_ADDRESSES:  # asking it again is not sending its answer out
            return
        where = self.index.destination(event.address, event.port)
        for kind in COLLECTED:
            taint = taints.get(kind)
            if taint is not None:
                hop = Hop(event.seq, event.pid, f"sent {event.bytes} bytes to {where}")
                self._sink("sent", event.seq, event.pid, where, taint.then(hop))

    # -- propagation -----------------------------------------------------------------------

    def _taint_image(self, image: Image, taint: Taint) -> None:
        taints = self.images.setdefault(image, {})
        if taint.kind in taints:
            return
        taints[taint.kind] = taint
        exec_event = self._exec_of(image)
        if self.legacy and exec_event is not None:
            # traces without DataWritten: its stdout (a pipe, a redirect) carries what it holds;
            # traces without fds: the files its forked child opened before the exec (`> f`)
            output = exec_event.stdout
            if output.startswith("pipe:") or (output.startswith("/") and output != "/dev/null"):
                self._written(taint.hops[-1].seq, image, output)
            elif not output and image.generation == 1:
                for path in self.opened.get(ImageId(image.pid, 0), ()):
                    self._written(taint.hops[-1].seq, image, path)

    def _written(self, seq: int, image: Image, path: str, what: str = "") -> None:
        taints = self.images.get(image, {})
        if not taints or not path:
            return
        pipe = path.startswith("pipe:")
        held = (self.pipes if pipe else self.files).setdefault(path, {})
        for kind, taint in taints.items():
            if kind in held or (not pipe and _installs(taint, path)):
                continue
            hop = Hop(seq, image.pid, what or f"wrote {path}", "" if pipe else path)
            held[kind] = taint.then(hop)
            for reader, exec_event in self.readers.get(path, ()) if pipe else ():
                if self._running(reader, seq):  # still that program
                    self._fed(reader, exec_event, held[kind], seq)
            if pipe:
                self._captured(image, path, held[kind], seq)

    def _captured(self, image: Image, pipe: str, taint: Taint, seq: int) -> None:
        """`$(uname -a)`, Go's exec.Command(…).Output(), Python's capture_output: a program's
        standard output is a pipe no program of the run reads as its stdin, so the parent
        that started it reads it. Followed for collected bytes, and for downloads only into
        an archive extractor (`tar -xzf` reads the gzip it started); any other download
        captured this way is pipelines.py's."""
        exec_event = self._exec_of(image)
        parent = self._forked_from(image)
        if exec_event is None or exec_event.stdout != pipe or parent is None:
            return
        if taint.kind not in COLLECTED and not self._extractor(parent):
            return
        if self.index.pipe_readers.get(pipe) or not self._running(parent, seq):
            return
        name = program(exec_event.argv, exec_event.exe, exec_event.applet)
        hop = Hop(seq, parent[0], f"read the output of {name}", pipe)
        self._taint_image(parent, taint.then(hop))
        # `$(gzip -c f | openssl base64)`: the parent is the substitution's subshell (a forked
        # copy of the shell, no exec of its own), whose stdout is the same pipe: the shell
        # that forked it reads it. Up through forked copies to the first program that exec'd.
        holder = parent
        for _ in range(MAX_SUBSHELLS):
            if self._exec_of(holder) is not None:
                break
            above = self._forked_from(holder)
            if above is None or not self._running(above, seq):
                break
            hop = Hop(seq, above[0], f"read the output of {name} (through a subshell)", pipe)
            self._taint_image(above, taint.then(hop))
            holder = above

    def _extractor(self, image: Image) -> bool:
        exec_event = self._exec_of(image)
        if exec_event is None:
            return False
        return program(exec_event.argv, exec_event.exe, exec_event.applet) in EXTRACTORS

    def _fed(self, image: Image, event: ProcessExecuted, taint: Taint, seq: int) -> None:
        """`image` reads the tainted pipe on its stdin; a shell reading its program there
        runs the bytes."""
        name = program(event.argv, event.exe, event.applet)
        hop = Hop(seq, event.pid, f"{name} read it on its standard input", event.stdin)
        self._taint_image(image, taint.then(hop))
        output = event.stdout
        if taint.kind in COLLECTED and (output.startswith("pipe:") or output.startswith("/")):
            # a filter (gzip, openssl enc) streams what it reads to its output, whose writes
            # folded into one event may have begun (a header) before these bytes came
            self._written(seq, image, output, f"{name} streamed it to {output}")
        if runs_shell_code_name(name) and script_argument(event.argv) == "":
            self._sink("pipe", seq, event.pid, event.stdin, taint)

    def _read(self, event: FileOpenedForRead) -> None:
        taints = self.files.get(event.path)
        if not taints:
            return
        image = self._image(event)
        for taint in taints.values():
            hop = Hop(event.seq, event.pid, f"read {event.path}", event.path)
            self._taint_image(image, taint.then(hop))
        exec_event = self._exec_of(image)
        if exec_event is None:
            return
        name = program(exec_event.argv, exec_event.exe, exec_event.applet)
        script = script_argument(exec_event.argv) if runs_shell_code_name(name) else None
        if script and _names(script, event.path):
            for taint in taints.values():
                self._sink("script", event.seq, event.pid, event.path, taint)

    def _sink(
        self, how: str, seq: int, pid: int, path: str, taint: Taint, succeeded: bool = True
    ) -> None:
        if (how == "sent") != (taint.kind in COLLECTED):
            return  # collected bytes are followed out, downloads and decoded bytes to a run
        key = (taint.kind, pid, path, succeeded)
        if key in self._sunk:
            return
        self._sunk.add(key)
        self.result.sinks.append(Sink(how, seq, pid, path, taint, succeeded))


def _installs(taint: Taint, path: str) -> bool:
    """A client's credential file copied to where a client reads one (`cp .env.production
    .env`, `install kubeconfig ~/.kube/config`): put in place, not collected. Its next read
    is judged as a read of that file."""
    return (
        taint.kind == SECRET
        and read_kind(taint.source.path) in STORED_CREDENTIAL_KINDS
        and read_kind(path) in STORED_CREDENTIAL_KINDS
    )


def _names(script: str, path: str) -> bool:
    """A script argument as a shell got it ("/tmp/x", "./x", "x") names `path`."""
    if script == path:
        return True
    if script.startswith("/"):
        return False
    return posixpath.basename(path) == posixpath.basename(script) and (
        path.endswith("/" + script.removeprefix("./"))
    )


SOCKET_PEER = re.compile(r"^socket:(?:TCP|UDP)6?:\[.*->\[?([0-9A-Fa-f.:]+?)\]?:(\d+)\]$")


def _socket_peer(fd: str) -> tuple[str, int] | None:
    """The remote address and port of a connected socket fd ("socket:TCP:[a:p->b:q]")."""
    match = SOCKET_PEER.match(fd)
    return (match[1], int(match[2])) if match else None
