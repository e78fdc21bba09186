"""TLS: the ClientHello read before the handshake (SNI, ALPN), and a context per SNI."""

from __future__ import annotations

import os
import ssl
import struct
from dataclasses import dataclass

from detonate.sandbox.netsim.authority import CertificateAuthority


@dataclass(frozen=True)
class ClientHello:
    sni: str = ""
    alpn: tuple[str, ...] = ()
    complete: bool = False  # False: the record is longer than what arrived so far


def looks_like_tls(data: bytes) -> bool:
    # a handshake record (0x16), SSL 3.0 … TLS 1.3 record version (0x03 0x00-0x04)
    return len(data) >= 3 and data[0] == 0x16 and data[1] == 0x03 and data[2] <= 0x04


def parse_client_hello(data: bytes) -> ClientHello:
    """SNI and ALPN from the first TLS record: 16 03 01 LL LL | 01 LLLLLL | 03 03 random …"""
    if len(data) < 5:
        return ClientHello()
    (record_length,) = struct.unpack("!H", data[3:5])
    body = data[5 : 5 + record_length]
    complete = len(body) == record_length
    try:
        if body[0] != 1:
            return ClientHello(complete=complete)
        at = 4 + 2 + 32  # handshake header, client version, random
        at += 1 + body[at]  # session id
        (suites,) = struct.unpack("!H", body[at : at + 2])
        at += 2 + suites
        at += 1 + body[at]  # compression methods
        (extensions_length,) = struct.unpack("!H", body[at : at + 2])
        at += 2
        end = min(at + extensions_length, len(body))
        sni, alpn = "", tuple[str, ...]()
        while at + 4 <= end:
            kind, length = struct.unpack("!HH", body[at : at + 4])
            value = body[at + 4 : at + 4 + length]
            at += 4 + length
            if kind == 0 and len(value) >= 5 and value[2] == 0:  # server_name, host_name
                (name_length,) = struct.unpack("!H", value[3:5])
                sni = value[5 : 5 + name_length].decode("ascii", "replace")
            elif kind == 16 and len(value) >= 2:  # application_layer_protocol_negotiation
                protocols, cursor = [], 2
                while cursor < len(value):
                    size = value[cursor]
                    protocols.append(
                        value[cursor + 1 : cursor + 1 + size].decode("ascii", "replace")
                    )
                    cursor += 1 + size
                alpn = tuple(protocols)
        return ClientHello(sni=sni, alpn=alpn, complete=complete)
    except (IndexError, struct.error):
        return ClientHello(complete=complete)


class Contexts:
    """Server contexts, one per name, each with a leaf issued by the run's CA on first use."""

    def __init__(self, authority: CertificateAuthority, default_name: str) -> None:
        self._authority = authority
        self._key_pem = authority.leaf_key_pem
        self._by_name: dict[str, ssl.SSLContext] = {}
        self.default = self._make(default_name)
        self.default.sni_callback = self._pick

    def _pick(self, connection: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        if name:
            connection.context = self.for_name(name)

    def for_name(self, name: str) -> ssl.SSLContext:
        name = name.lower()[:253]
        context = self._by_name.get(name)
        if context is None:
            if len(self._by_name) > 4096:
                return self.default
            context = self._by_name[name] = self._make(name)
        return context

    def _make(self, name: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1  # old miners and bots
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.set_alpn_protocols(["http/1.1"])
        # load_cert_chain wants files: memfds keep the key off the disk and work after the
        # services dropped their privileges
        cert = _memfd(self._authority.issue(name))
        key = _memfd(self._key_pem)
        try:
            context.load_cert_chain(f"/proc/self/fd/{cert}", f"/proc/self/fd/{key}")
        finally:
            os.close(cert)
            os.close(key)
        return context


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("netsim-pem", os.MFD_CLOEXEC)
    os.write(fd, data)
    return fd
