"""Whether a program's own file holds a text only in an encoded form.

A compiled dropper keeps its stage XOR'd, base64'd or compressed, decodes it in memory and
hands it to a shell: the trace shows what the stage did (the shell's commands, the URL it
fetched), never the decoding. The act's texts are the clue: a command line or URL that the
program's file does not hold in the clear but does hold encoded was decoded by the program.
Searched, for each text: base64 (standard and URL-safe, at the three byte alignments), hex,
`\\x` and octal escapes, decimal char codes (`String.fromCharCode(119, 103, …)`, `bytes([…])`),
reversed, ROT13 and the other Caesar shifts, repeating-key XOR with keys of 1 to 16 bytes
(found without knowing the key: a text XOR'd with a key of period k keeps the XOR of each byte
with the byte k later), and inside gzip, zlib, bzip2 and xz data (raw, or base64'd and in a
literal).
"""

from __future__ import annotations

import base64
import codecs
import re
from collections.abc import Iterable, Iterator

from detonate.detect.provenance.literals import compressed_literals, inflated

MIN_TEXT = 12  # shorter texts are common words: their encoded forms turn up by chance
MAX_KEY = 16  # XOR key lengths tried
MIN_XOR_TEXT = 16  # and the text must be at least this long (and twice the key)
MIN_SPREAD = 8  # bytes of the text that differ from the byte a key's length later
MAX_STREAMS = 48  # compressed streams tried per file
STRONG_MAGIC = re.compile(rb"\x1f\x8b\x08|BZh[1-9]1AY&SY|\xfd7zXZ\x00")  # gzip, bzip2, xz
ZLIB_MAGIC = re.compile(rb"\x78[\x01\x5e\x9c\xda]")  # common in any binary: tried fewer
TEXT_PROBE = 4096  # a NUL in the first bytes: a binary, where escapes and char codes are not


def hidden(data: bytes, texts: Iterable[str]) -> dict[str, str]:
    """{text: how `data` holds it} for the texts `data` holds encoded but not in the clear."""
    wanted = {
        text: text.encode("utf-8", "replace")
        for text in dict.fromkeys(texts)
        if len(text) >= MIN_TEXT
    }
    wanted = {text: raw for text, raw in wanted.items() if raw not in data}
    found: dict[str, str] = {}
    for text, raw in wanted.items():
        how = _plain_form(data, raw)
        if how:
            found[text] = how
    rest = {text: raw for text, raw in wanted.items() if text not in found}
    found.update(_xored(data, rest))
    rest = {text: raw for text, raw in rest.items() if text not in found}
    if rest:
        found.update(_compressed(data, rest))
    return found


def _plain_form(data: bytes, raw: bytes) -> str:
    text = b"\0" not in data[:TEXT_PROBE]
    for how, form in _forms(raw, text):
        if form in data:
            return how
    if text and _char_codes(raw).search(data):
        return "decimal char codes"
    return ""


def _forms(raw: bytes, text: bool) -> Iterator[tuple[str, bytes]]:
    for alignment in range(3):
        encoded = base64.b64encode(b"\0" * alignment + raw)
        first = -(-8 * alignment // 6)  # the first character made of the text's bits only
        last = 8 * (alignment + len(raw)) // 6
        inner = encoded[first:last]
        yield "base64", inner
        yield "URL-safe base64", inner.replace(b"+", b"-").replace(b"/", b"_")
    hexed = raw.hex().encode()
    yield "hex", hexed
    yield "hex", hexed.upper()
    if text:
        yield "\\x escapes", b"".join(b"\\x%02x" % byte for byte in raw)
        yield "\\x escapes", b"".join(b"\\x%02X" % byte for byte in raw)
        yield "octal escapes", b"".join(b"\\%03o" % byte for byte in raw)
    yield "reversed", raw[::-1]
    letters = raw.decode("latin-1")
    for shift in range(1, 26):
        shifted = _caesar(letters, shift)
        if shifted != letters:
            how = "ROT13" if shift == 13 else f"a Caesar shift of {shift}"
            yield how, shifted.encode("latin-1")


def _caesar(text: str, shift: int) -> str:
    if shift == 13:
        return codecs.encode(text, "rot13")
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - 97 + shift) % 26 + 97))
        elif "A" <= ch <= "Z":
            out.append(chr((ord(ch) - 65 + shift) % 26 + 65))
        else:
            out.append(ch)
    return "".join(out)


def _char_codes(raw: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"\s*,\s*".join(str(byte).encode() for byte in raw))


def _xored(data: bytes, wanted: dict[str, bytes]) -> dict[str, str]:
    """Repeating-key XOR: where the text is XOR'd with a key of period k, the data's bytes XOR'd
    with the bytes k later equal the text's bytes XOR'd likewise, whatever the key."""
    found: dict[str, str] = {}
    candidates = {t: r for t, r in wanted.items() if len(r) >= MIN_XOR_TEXT}
    for period in range(1, MAX_KEY + 1):
        todo = {t: r for t, r in candidates.items() if t not in found and len(r) >= 2 * period}
        if not todo or len(data) <= period:
            break
        spread = _spread(data, period)
        for text, raw in todo.items():
            pattern = _spread(raw, period)
            if len(pattern) - pattern.count(0) < MIN_SPREAD or len(set(pattern)) < 4:
                continue  # mostly a run of one character: zeroed padding would match it
            at = spread.find(pattern)
            if at >= 0:
                key = bytes(data[at + i] ^ raw[i] for i in range(period))
                found[text] = f"XOR'd with the {period}-byte key {key.hex()}"
    return found


def _spread(data: bytes, period: int) -> bytes:
    size = len(data) - period
    left = int.from_bytes(data[:size], "big")
    right = int.from_bytes(data[period:], "big")
    return (left ^ right).to_bytes(size, "big")


def _compressed(data: bytes, wanted: dict[str, bytes]) -> dict[str, str]:
    """Compressed streams of the file (by their magic bytes) and in its base64 literals."""
    found: dict[str, str] = {}
    for how, inner in _streams(data):
        for text, raw in wanted.items():
            if text in found:
                continue
            if raw in inner:
                found[text] = how
            else:
                form = _plain_form(inner, raw)
                if form:
                    found[text] = f"{form} in {how}"
        if len(found) == len(wanted):
            break
    return found


def _streams(data: bytes) -> Iterator[tuple[str, bytes]]:
    view = memoryview(data)
    for magic in (STRONG_MAGIC, ZLIB_MAGIC):
        for tried, match in enumerate(magic.finditer(data)):
            if tried >= MAX_STREAMS:
                break
            for inner in inflated(view[match.start() :]):
                if inner:
                    yield "compressed data", inner
    for blob in compressed_literals(data.decode("latin-1")):
        for inner in inflated(blob):
            if inner:
                yield "a compressed base64 literal", inner
