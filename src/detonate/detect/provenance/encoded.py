"""Whether a program's own file holds a text only in an encoded form.

A compiled dropper keeps its stage XOR'd, base64'd or compressed, decodes it in memory and
hands it to a shell: the trace shows what the stage did (the shell's commands, the URL it
fetched), never the decoding. The act's texts are the clue: a command line or URL that the
program's file does not hold in the clear but does hold encoded was decoded by the program.
Searched, for each text: base64 (standard and URL-safe, at the three byte alignments), hex,
`\\x` and octal escapes, reversed, ROT13, repeating-key XOR with keys of 1 to 16 bytes (found
without knowing the key: a text XOR'd with a key of period k keeps the XOR of each byte with
the byte k later), and inside gzip, zlib, bzip2 and xz data (raw, or base64'd in a literal).
In program text (a script, no NUL bytes) also: the other Caesar shifts, decimal char codes
shifted by any constant (`String.fromCharCode(c - 3)`: the differences between neighbours
stay), and the same searches again inside the script's hex and base64 literals, read forwards
and backwards (a reversed base64 string, hex fragments then XOR'd).
"""

from __future__ import annotations

import base64
import codecs
import itertools
import re
from collections.abc import Iterable, Iterator

from detonate.detect.provenance.literals import compressed_literals, hidden_blobs, inflated

MIN_TEXT = 12  # shorter texts are common words: their encoded forms turn up by chance
MAX_KEY = 16  # XOR key lengths tried
MIN_XOR_TEXT = 16  # and the text must be at least this long (and twice the key)
MIN_SPREAD = 8  # bytes of the text that differ from the byte a key's length later
MAX_STREAMS = 48  # compressed streams tried per file
MAX_LITERAL_HAYSTACKS = 64  # decoded literals of a script searched
STRONG_MAGIC = re.compile(rb"\x1f\x8b\x08|BZh[1-9]1AY&SY|\xfd7zXZ\x00")  # gzip, bzip2, xz
ZLIB_MAGIC = re.compile(rb"\x78[\x01\x5e\x9c\xda]")  # common in any binary: tried fewer
TEXT_PROBE = 4096  # a NUL in the first bytes: a binary
CHAR_CODES = re.compile(rb"\d{1,3}(?:\s*,\s*\d{1,3}){11,}")  # a list of 12 or more numbers


def hidden(data: bytes, texts: Iterable[str]) -> dict[str, str]:
    """{text: how `data` holds it} for the texts `data` holds encoded but not in the clear."""
    wanted = {
        text: text.encode("utf-8", "replace")
        for text in dict.fromkeys(texts)
        if len(text) >= MIN_TEXT
    }
    wanted = {text: raw for text, raw in wanted.items() if raw not in data}
    found: dict[str, str] = {}
    is_text = b"\0" not in data[:TEXT_PROBE]
    for label, haystack in _haystacks(data, is_text):
        rest = {text: raw for text, raw in wanted.items() if text not in found}
        if not rest:
            break
        for text, how in _search(haystack, rest, is_text, inner=bool(label)).items():
            found[text] = f"{how} in {label}" if label else how
    return found


def _haystacks(data: bytes, is_text: bool) -> Iterator[tuple[str, bytes]]:
    """The file, then what it holds compressed, then (program text) its decoded literals."""
    yield "", data
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
    if is_text:
        text = data.decode("utf-8", "replace")
        count = 0
        for label, source in (("a literal", text), ("a reversed literal", text[::-1])):
            for blob in hidden_blobs(source):
                count += 1
                if count > MAX_LITERAL_HAYSTACKS:
                    return
                yield label, blob
                for inner in inflated(blob):
                    if inner:
                        yield f"compressed {label}", inner


def _search(
    haystack: bytes, wanted: dict[str, bytes], is_text: bool, inner: bool
) -> dict[str, str]:
    found: dict[str, str] = {}
    for text, raw in wanted.items():
        if inner and raw in haystack:
            found[text] = "plain"
            continue
        how = _plain_form(haystack, raw, is_text)
        if how:
            found[text] = how
    rest = {text: raw for text, raw in wanted.items() if text not in found}
    found.update(_xored(haystack, rest))
    if is_text:
        rest = {text: raw for text, raw in rest.items() if text not in found}
        found.update(_shifted_char_codes(haystack, rest))
    return found


def _plain_form(data: bytes, raw: bytes, is_text: bool) -> str:
    for how, form in _forms(raw, is_text):
        if form in data:
            return how
    return ""


def _forms(raw: bytes, is_text: bool) -> Iterator[tuple[str, bytes]]:
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
    yield "\\x escapes", b"".join(b"\\x%02x" % byte for byte in raw)
    yield "\\x escapes", b"".join(b"\\x%02X" % byte for byte in raw)
    yield "octal escapes", b"".join(b"\\%03o" % byte for byte in raw)
    yield "reversed", raw[::-1]
    letters = raw.decode("latin-1")
    for shift in range(1, 26) if is_text else (13,):
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


def _shifted_char_codes(data: bytes, wanted: dict[str, bytes]) -> dict[str, str]:
    """Decimal char codes, the text's own or shifted by a constant: compared by the
    differences between neighbouring codes, which a shift keeps."""
    found: dict[str, str] = {}
    arrays = [[int(n) for n in re.findall(rb"\d+", m[0])] for m in CHAR_CODES.finditer(data)]
    if not arrays:
        return found
    steps = [_steps(codes) for codes in arrays]
    for text, raw in wanted.items():
        pattern = _steps(list(raw))
        for codes, step in zip(arrays, steps, strict=True):
            at = step.find(pattern)
            if at >= 0:
                shift = codes[at] - raw[0]
                shifted = f" shifted by {shift}" if shift else ""
                found[text] = f"decimal char codes{shifted}"
                break
    return found


def _steps(codes: list[int]) -> str:
    """The differences between neighbouring codes, one character each (for str.find)."""
    return "".join(chr(b - a + 1024) for a, b in itertools.pairwise(codes))
