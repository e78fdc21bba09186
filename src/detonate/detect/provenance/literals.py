"""Texts hidden in a program's string literals, whatever the encoding: base64, base85 and hex
literals (and the gzip, zlib, bzip2 or xz data they may hold), XOR'd with a one-byte key or
with a short string literal of the same file (`d[i] ^= k[i % k.length]`) when the file XORs.

Used by embedded.py: what a literal decodes to counts only when the run shows it acting.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import contextlib
import lzma
import re
import zlib
from collections.abc import Iterator

from detonate.static.base64_stage import decoded_stages

HEX = re.compile(r"(?<![0-9A-Fa-f])((?:[0-9A-Fa-f]{2}){16,})(?![0-9A-Fa-f])")
# base85 (Python's b85 alphabet, Ascii85) in a quoted literal: no quotes or backslashes
BASE85 = re.compile(r"""["']([0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{40,})["']""")
BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])([A-Za-z0-9+/]{24,}={0,2})(?![A-Za-z0-9+/=])")
# a block of base64 lines (MIME's 76 columns, `base64`'s 76, a heredoc's or __DATA__'s lines)
BASE64_BLOCK = re.compile(
    r"(?<![A-Za-z0-9+/=])((?:[A-Za-z0-9+/]{16,}[ \t]*\r?\n[ \t]*)+[A-Za-z0-9+/]*={0,2})"
    r"(?![A-Za-z0-9+/=])"
)
WHITESPACE = re.compile(r"\s+")
BASE64_URL = re.compile(r"(?<![A-Za-z0-9_\-=])([A-Za-z0-9_-]{24,}={0,2})(?![A-Za-z0-9_\-=])")
COMPRESSED_BASE64 = re.compile(
    r"(?:H4sI|Qlpo|/Td6WFo|e[AFJN])[A-Za-z0-9+/]{12,}(?:\s+[A-Za-z0-9+/]+)*"
)
KEY_LITERAL = re.compile(r"""["']([^"'\\\n]{1,32})["']""")
XORS = re.compile(r"\^=|\s\^\s|\bxor\b|\^\s*(?:k|key)\b", re.IGNORECASE)
MIN_TEXT = 16
MAX_LITERALS = 64  # per file
MAX_KEYS = 32
MAX_OUT = 1 << 20
XOR_BYTES = 64 * 1024  # larger blobs are not tried with XOR keys
PROBE = 48  # bytes XOR'd first: a key whose output starts unreadable is dropped


def hidden_texts(code: str) -> list[str]:
    """The printable texts the file's literals decode to (base64 ones nested too)."""
    out: list[str] = list(decoded_stages("base64 -d " + code))
    keys = _keys(code) if XORS.search(code) else []
    for raw in _blobs(code):
        for data in (raw, *inflated(raw)):
            candidates = [data]
            if len(data) <= XOR_BYTES:
                candidates += [_xor(data, key) for key in keys if _xor_prefix_readable(data, key)]
            for candidate in candidates:
                text = _text(candidate)
                if text is not None and text not in out:
                    out.append(text)
    return out


def _blobs(code: str) -> Iterator[bytes]:
    count = 0
    for pattern, decode in (
        (HEX, _unhex),
        (BASE85, _b85),
        (BASE64_BLOCK, _b64_lines),
        (BASE64, _b64),
    ):
        for literal in pattern.findall(code):
            raw = decode(literal)
            if raw:
                count += 1
                yield raw
            if count >= MAX_LITERALS:
                return


def hidden_blobs(code: str) -> Iterator[bytes]:
    """The hex and base64 literals of program text (standard, URL-safe, in lines), decoded."""
    for pattern, decode in (
        (HEX, _unhex),
        (BASE64_BLOCK, _b64_lines),
        (BASE64, _b64),
        (BASE64_URL, _b64_url),
    ):
        for literal in pattern.findall(code):
            raw = decode(literal)
            if raw:
                yield raw


def compressed_literals(text: str, tries: int = 4096) -> Iterator[bytes]:
    """The base64 literals of `text` (one line or a block of lines) that hold compressed data,
    decoded. Found by how each format's magic bytes begin in base64 (gzip `H4sI`, bzip2 `Qlpo`,
    xz `/Td6WFo`, zlib `eA`/`eF`/`eJ`/`eN`) and read forward from there: in a program binary a
    literal is often packed against the bytes before it, which would shift its alignment."""
    for tries_left, match in enumerate(COMPRESSED_BASE64.finditer(text), start=1):
        if tries_left > tries:
            return
        literal = WHITESPACE.sub("", match[0]).rstrip("=")
        raw = _b64(literal[: len(literal) - len(literal) % 4])
        if (
            raw[:3] == b"\x1f\x8b\x08"
            or raw[:3] == b"BZh"
            or raw[:6] == b"\xfd7zXZ\0"
            or (raw[:1] == b"\x78" and len(raw) > 2 and (raw[0] * 256 + raw[1]) % 31 == 0)
        ):
            yield raw


def _unhex(literal: str) -> bytes:
    try:
        return binascii.unhexlify(literal)
    except (binascii.Error, ValueError):
        return b""


def _b85(literal: str) -> bytes:
    for decode in (base64.b85decode, base64.a85decode):
        try:
            return decode(literal)
        except (ValueError, binascii.Error):
            continue
    return b""


def _b64(literal: str) -> bytes:
    try:
        return base64.b64decode(literal + "=" * (-len(literal) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _b64_url(literal: str) -> bytes:
    if "-" not in literal and "_" not in literal:
        return b""  # a standard one: BASE64 has it
    return _b64(literal.replace("-", "+").replace("_", "/"))


def _b64_lines(block: str) -> bytes:
    return _b64(WHITESPACE.sub("", block))


def inflated(raw: bytes | memoryview) -> Iterator[bytes]:
    """What a compressed literal holds (zlib, raw deflate, gzip, bzip2, xz), its first MAX_OUT
    bytes only: a literal is the image author's, and a few hundred bytes can inflate to GBs."""
    for wbits in (15, -15, 31):
        with contextlib.suppress(zlib.error):
            yield zlib.decompressobj(wbits).decompress(raw, MAX_OUT)
    for decompressor in (bz2.BZ2Decompressor(), lzma.LZMADecompressor()):
        with contextlib.suppress(OSError, ValueError, lzma.LZMAError, EOFError):
            yield decompressor.decompress(raw, MAX_OUT)


def _keys(code: str) -> list[bytes]:
    keys = [bytes([k]) for k in range(1, 256)]
    for literal in KEY_LITERAL.findall(code)[:MAX_KEYS]:
        keys.append(literal.encode("utf-8", "replace"))
    return keys


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data[:MAX_OUT]))


def _xor_prefix_readable(data: bytes, key: bytes) -> bool:
    head = _xor(data[:PROBE], key)
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head)


def _text(data: bytes) -> str | None:
    if len(data) < MIN_TEXT:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not all(ch.isprintable() or ch in "\n\t\r" for ch in text):
        return None
    # a text of code or commands has words: at least two runs of letters and a space
    if text.count(" ") < 2 or not re.search(r"[A-Za-z]{2,}", text):
        return None
    return text.strip()
