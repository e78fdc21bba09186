"""The ClientHello reader (SNI and ALPN, before the handshake), and the protocol sniffers.

Contract: `parse_client_hello` returns a ClientHello for any bytes; the sniffers a bool.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator

from fuzz_harness import check

from detonate.sandbox.netsim.dockerapi import looks_like_docker
from detonate.sandbox.netsim.http import looks_like_http
from detonate.sandbox.netsim.irc import looks_like_irc
from detonate.sandbox.netsim.stratum import looks_like_stratum
from detonate.sandbox.netsim.tls import ClientHello, looks_like_tls, parse_client_hello

TIME_BOUND = 5.0


def _client_hello(server_name: str, alpn: list[str]) -> bytes:
    context = ssl.create_default_context()
    context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        connection.do_handshake()
    return outgoing.read()


def seeds() -> Iterator[bytes]:
    yield _client_hello("pool.example.test", ["h2", "http/1.1"])
    yield _client_hello("a.test", [])[:60]


def fuzz(data: bytes) -> None:
    hello = parse_client_hello(data)
    check(isinstance(hello, ClientHello), "parse_client_hello gave no ClientHello")
    check(isinstance(hello.sni, str) and all(isinstance(p, str) for p in hello.alpn), "fields")
    for sniff in (looks_like_tls, looks_like_http, looks_like_irc, looks_like_stratum):
        check(isinstance(sniff(data), bool), sniff.__name__)
    check(isinstance(looks_like_docker(data.decode("latin-1")), bool), "looks_like_docker")
