"""One listener for every TCP connection the sample makes, whatever the address and port.

iptables REDIRECT sends each one here; `SO_ORIGINAL_DST` tells where the sample meant to go.
The first bytes pick the service; a client that stays silent on a server-first port (FTP,
SSH, SMTP …) gets that server's banner after a short wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import sys
import time
from dataclasses import dataclass

from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.dns import Resolver
from detonate.sandbox.netsim.dockerapi import DOCKER_PORTS, looks_like_docker, serve_docker
from detonate.sandbox.netsim.http import looks_like_http, serve_http
from detonate.sandbox.netsim.irc import looks_like_irc, serve_irc
from detonate.sandbox.netsim.names import NameBook
from detonate.sandbox.netsim.recorder import Flow, Recorder
from detonate.sandbox.netsim.sink import BANNERS, is_passive_data, serve_sink
from detonate.sandbox.netsim.stratum import looks_like_stratum, serve_stratum
from detonate.sandbox.netsim.stream import Closed, Stream
from detonate.sandbox.netsim.tls import Contexts, looks_like_tls, parse_client_hello

SO_ORIGINAL_DST = 80
PEEK_BYTES = 16384
TLS_HANDSHAKE_SECONDS = 10.0


def original_destination(conn: socket.socket) -> tuple[str, int]:
    # struct sockaddr_in: family (2), port (2, network order), address (4), zero (8)
    raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, address = struct.unpack("!2xH4s8x", raw)
    return socket.inet_ntoa(address), port


@dataclass
class Services:
    config: NetsimConfig
    recorder: Recorder
    names: NameBook
    resolver: Resolver
    contexts: Contexts


class CatchAll:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.tasks: set[asyncio.Task[None]] = set()
        self.refused = 0
        self.peak = 0

    async def serve(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            if len(self.tasks) >= self.services.config.max_connections:
                self.refused += 1
                conn.close()
                continue
            task = asyncio.create_task(self._handle(conn))
            self.tasks.add(task)
            self.peak = max(self.peak, len(self.tasks))
            task.add_done_callback(self.tasks.discard)

    async def shutdown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)

    async def _handle(self, conn: socket.socket) -> None:
        accepted = time.time()
        services = self.services
        conn.setblocking(False)
        protocol = ""
        flow: Flow | None = None
        stream: Stream | None = None
        try:
            peer = conn.getpeername()
            dst_ip, dst_port = original_destination(conn)
            flow = Flow(peer[0], peer[1], dst_ip, dst_port, domain=services.names.name_of(dst_ip))
            wait = services.config.banner_wait_seconds
            if is_passive_data(flow):  # an FTP client's data connection: its bytes are the file
                protocol = "ftp-data"
                stream = await _plain(conn, services.config.idle_seconds)
                self._connected(flow, accepted, protocol)
                await serve_sink(stream, flow, services.recorder, protocol, self._record_bytes)
                return
            first = await _peek(conn, wait if dst_port in BANNERS else services.config.idle_seconds)
            if not first and dst_port in BANNERS:  # silent, or half-closed without a word
                protocol, banner = BANNERS[dst_port]
                stream = await _plain(conn, services.config.idle_seconds)
                self._connected(flow, accepted, protocol)
                await stream.send(banner)
                await serve_sink(stream, flow, services.recorder, protocol, self._record_bytes)
                return
            if not first:
                protocol = "silent" if first is None else "closed"
                return
            if looks_like_tls(first):
                protocol = "tls"
                stream = await self._tls(conn, flow, first, accepted)
                if stream is None:
                    return
                if not stream.buffer:
                    await stream.fill()
            else:
                stream = await _plain(conn, services.config.idle_seconds)
                await stream.fill()
            if len(stream.buffer) < 8:
                await stream.fill(0.3)
            inner = await self._dispatch(stream, flow, accepted, prefix="tls+" if flow.tls else "")
            protocol = inner
        except (Closed, ConnectionError, TimeoutError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass
        except OSError as error:
            print(f"netsim: connection error: {error}", file=sys.stderr)
        finally:
            if flow is not None and protocol and not flow.announced:
                self._connected(flow, accepted, protocol)
            if stream is not None:
                stream.close()
            else:
                conn.close()

    @property
    def _record_bytes(self) -> int:
        return self.services.config.record_bytes

    def _connected(self, flow: Flow, accepted: float, protocol: str) -> None:
        flow.announced = True
        self.services.recorder.emit("connected", flow, ts=accepted, protocol=protocol)

    async def _tls(
        self, conn: socket.socket, flow: Flow, first: bytes, accepted: float
    ) -> Stream | None:
        hello = parse_client_hello(first)
        for _ in range(20):  # a ClientHello split over several segments
            if hello.complete:
                break
            await asyncio.sleep(0.05)
            more = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
            if len(more) == len(first):
                continue
            first = more
            hello = parse_client_hello(first)
        flow.tls = True
        flow.sni = hello.sni
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**20)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol,
                conn,
                ssl=self.services.contexts.default,
                ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS,
            )
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
            self.services.recorder.emit(
                "tls_hello",
                flow,
                ts=accepted,
                sni=hello.sni,
                alpn=list(hello.alpn),
                handshake_ok=False,
            )
            return None
        self.services.recorder.emit(
            "tls_hello", flow, ts=accepted, sni=hello.sni, alpn=list(hello.alpn), handshake_ok=True
        )
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        return Stream(reader, writer, self.services.config.idle_seconds)

    async def _dispatch(self, stream: Stream, flow: Flow, accepted: float, prefix: str) -> str:
        services = self.services
        data = bytes(stream.buffer[:PEEK_BYTES])
        record_bytes = self._record_bytes
        if flow.dst_port == 53 and len(data) < 14:  # a length sent apart from its message
            await stream.fill(0.3)
            data = bytes(stream.buffer[:PEEK_BYTES])
        if flow.dst_port == 53 and not flow.tls and looks_like_dns_over_tcp(data):
            self._connected(flow, accepted, "dns")
            await _serve_dns_over_tcp(stream, flow, services.resolver)
            return "dns"
        if looks_like_http(data):
            target = data.split(b" ", 2)[1].decode("latin-1") if data.count(b" ") >= 2 else "/"
            if flow.dst_port in DOCKER_PORTS or looks_like_docker(target):
                self._connected(flow, accepted, prefix + "docker-api")
                await serve_docker(stream, flow, services.recorder, record_bytes)
                return prefix + "docker-api"
            self._connected(flow, accepted, prefix + "http")
            await serve_http(
                stream, flow, services.recorder, services.config.payloads, record_bytes
            )
            return prefix + "http"
        if looks_like_stratum(data):
            self._connected(flow, accepted, prefix + "stratum")
            await serve_stratum(
                stream, flow, services.recorder, services.config.stratum_job_seconds
            )
            return prefix + "stratum"
        if looks_like_irc(data):
            self._connected(flow, accepted, prefix + "irc")
            await serve_irc(stream, flow, services.recorder, record_bytes)
            return prefix + "irc"
        protocol = "raw"
        if data.startswith(b"SSH-"):
            protocol = "ssh"
            await stream.send(BANNERS[22][1])
        self._connected(flow, accepted, prefix + protocol)
        await serve_sink(stream, flow, services.recorder, protocol, record_bytes)
        return prefix + protocol


async def _peek(conn: socket.socket, timeout: float) -> bytes | None:
    """The bytes waiting on `conn` without consuming them; None if none came within `timeout`."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(ready, timeout)
    except TimeoutError:
        return None
    finally:
        loop.remove_reader(fd)
    try:
        return conn.recv(PEEK_BYTES, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


async def _plain(conn: socket.socket, idle: float) -> Stream:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn)
    return Stream(reader, asyncio.StreamWriter(transport, protocol, reader, loop), idle)


async def _serve_dns_over_tcp(stream: Stream, flow: Flow, resolver: Resolver) -> None:
    # each message is prefixed by its length in two bytes
    with contextlib.suppress(Closed):
        for _ in range(1000):
            (length,) = struct.unpack("!H", await stream.readexactly(2))
            reply = resolver.answer(await stream.readexactly(length), flow)
            if reply is None:
                return
            await stream.send(struct.pack("!H", len(reply)) + reply)


def looks_like_dns_over_tcp(data: bytes) -> bool:
    """A DNS query over TCP: a two-byte length, then a header with one to a few questions, no
    answers and QR clear. Text sent to port 53 (`HELLO host`) is not DNS: it goes to the sink."""
    if len(data) < 14:
        return False
    length, _ident, flags, questions, answers, authority = struct.unpack("!HHHHHH", data[:12])
    return length >= 12 and not flags & 0x8000 and 1 <= questions <= 4 and answers == authority == 0
