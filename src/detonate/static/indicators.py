"""Indicators of compromise in text or binary strings: URLs, mining pools, domains, IPs and
Monero / Bitcoin wallets. Pure functions over bytes; checksums where the coin allows it."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B58_CLASS = rb"1-9A-HJ-NP-Za-km-z"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

# Patterns start with a literal or a character class so the regex engine can skip ahead fast;
# the "not preceded by" checks are done in Python on the few candidates (see _starts_clean).
# http://x.test/p.sh   stratum+tcp://pool.test:3333   stratum+ssl://203.0.113.5:443
URL = re.compile(
    rb"(?:https?|ftp|stratum\d?\+(?:tcp|ssl|tls))://[A-Za-z0-9._~%!$&'()*+,;=:@/?#\[\]-]{3,2000}"
)
# 198.51.100.7 — but not inside a longer dotted number like a version "1.2.3.4.5"
IPV4 = re.compile(rb"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d|\.\d)")
# Monero: 95 characters (standard "4…", subaddress "8…") or 106 (integrated "4…").
MONERO = re.compile(
    rb"[48][1-9AB][" + B58_CLASS + rb"]{93}(?:[" + B58_CLASS + rb"]{11})?(?![" + B58_CLASS + rb"])"
)
BITCOIN_BASE58 = re.compile(rb"[13][" + B58_CLASS + rb"]{25,34}(?![" + B58_CLASS + rb"])")
BITCOIN_BECH32 = re.compile(rb"bc1[02-9ac-hj-np-z]{11,71}(?![a-z0-9])")
URL_BEFORE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
IP_BEFORE = frozenset(b"0123456789.")
B58_BEFORE = frozenset(B58.encode())
BECH32_BEFORE = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
URL_TRAILING = ".,;:!?)]}'\"*"
METADATA_IP = ipaddress.ip_address("169.254.169.254")

# The same patterns as YARA strings, without their look-arounds and shortened to a prefix: every
# offset where a Python pattern above matches is an offset where its YARA string matches, so a
# yara-x scan (fast, and done anyway for the YARA rules) finds where to try the Python patterns.
CANDIDATES_YARA = r"""
rule detonate_indicator_candidates
{
    strings:
        $url = /(https?|ftp|stratum[0-9]?\+(tcp|ssl|tls)):\/\//
        $ipv4 = /[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}/
        $monero = /[48][1-9AB][1-9A-HJ-NP-Za-km-z]{93}/
        $bitcoin_base58 = /[13][1-9A-HJ-NP-Za-km-z]{25}/
        $bitcoin_bech32 = /bc1[02-9ac-hj-np-z]{11}/
    condition:
        any of them
}
"""


@dataclass
class Found:
    """Indicators of one text, each as it was written."""

    urls: set[str] = field(default_factory=set)
    pools: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    wallets: dict[str, str] = field(default_factory=dict)  # address → "monero" | "bitcoin"

    def __bool__(self) -> bool:
        return bool(self.urls or self.pools or self.domains or self.ips or self.wallets)


def find_indicators(data: bytes, starts: Mapping[str, Sequence[int]] | None = None) -> Found:
    """The indicators in `data`. With `starts` (YARA string name without "$" → offsets where it
    matched, from CANDIDATES_YARA), the patterns are tried only there, with the same result."""

    def clean(name: str, pattern: re.Pattern[bytes], before: frozenset[int]) -> list[bytes]:
        if starts is None:
            return _clean_matches(pattern, data, before)
        return _clean_matches_at(pattern, data, before, starts.get(name, ()))

    found = Found()
    for raw in clean("url", URL, URL_BEFORE):
        url = raw.decode("ascii", "replace").rstrip(URL_TRAILING)
        host = _host(url)
        if not host:
            continue
        (found.pools if url.startswith("stratum") else found.urls).add(url)
        if _public_ip(host) is not None:
            found.ips.add(host)
        elif "." in host and not host.replace(".", "").isdigit():
            found.domains.add(host.lower())
    for raw in clean("ipv4", IPV4, IP_BEFORE):
        ip = raw.decode()
        if _public_ip(ip) is not None:
            found.ips.add(ip)
    for raw in clean("monero", MONERO, B58_BEFORE):
        found.wallets[raw.decode()] = "monero"
    for raw in clean("bitcoin_base58", BITCOIN_BASE58, B58_BEFORE):
        if valid_base58check(raw.decode()):
            found.wallets[raw.decode()] = "bitcoin"
    for raw in clean("bitcoin_bech32", BITCOIN_BECH32, BECH32_BEFORE):
        if valid_bech32(raw.decode()):
            found.wallets[raw.decode()] = "bitcoin"
    return found


def _clean_matches(pattern: re.Pattern[bytes], data: bytes, before: frozenset[int]) -> list[bytes]:
    """Matches not glued to a preceding character of `before` (a word boundary of sorts)."""
    return [
        m.group(0)
        for m in pattern.finditer(data)
        if m.start() == 0 or data[m.start() - 1] not in before
    ]


def _clean_matches_at(
    pattern: re.Pattern[bytes], data: bytes, before: frozenset[int], starts: Sequence[int]
) -> list[bytes]:
    """`_clean_matches`, trying the pattern only at `starts`: as finditer does, a match is
    looked for at each offset not inside the previous match, left to right."""
    found: list[bytes] = []
    end = 0
    for start in sorted(set(starts)):
        if start < end:
            continue
        match = pattern.match(data, start)
        if match is None:
            continue
        end = match.end() if match.end() > start else start + 1
        if start == 0 or data[start - 1] not in before:
            found.append(match.group(0))
    return found


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _public_ip(text: str) -> str | None:
    """`text` if it is an IPv4 address worth reporting (not loopback, 0.0.0.0, multicast, …)."""
    try:
        ip = ipaddress.IPv4Address(text)
    except ValueError:
        return None
    if ip == METADATA_IP:
        return text
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
        return None
    if ip.is_reserved or str(ip).startswith("255."):
        return None
    return text


def valid_base58check(address: str) -> bool:
    """A Bitcoin P2PKH/P2SH address: 25 bytes, version 0x00 or 0x05, double-SHA256 checksum."""
    number = 0
    for char in address:
        number = number * 58 + B58.index(char)
    pad = len(address) - len(address.lstrip("1"))
    try:
        raw = b"\x00" * pad + number.to_bytes((number.bit_length() + 7) // 8, "big")
    except OverflowError:
        return False
    if len(raw) != 25 or raw[0] not in (0x00, 0x05):
        return False
    checksum = hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4]
    return checksum == raw[-4:]


def valid_bech32(address: str) -> bool:
    """A segwit address "bc1…" with a valid bech32 or bech32m checksum (BIP 173 / 350)."""
    hrp, _, data = address.lower().rpartition("1")
    if hrp != "bc" or len(data) < 7:
        return False
    values = [BECH32.index(c) for c in data]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return _polymod(expanded + values) in (1, 0x2BC830A3)


def _polymod(values: list[int]) -> int:
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generators[i] if (top >> i) & 1 else 0
    return checksum
