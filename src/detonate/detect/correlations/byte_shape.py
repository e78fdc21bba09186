"""What a file's bytes look like, without knowing what they mean: random (encrypted or
compressed) or not, and which known container format, if any, they start with.

Small files need care: a 60-byte random string cannot reach 8 bits per byte of entropy, so
randomness is judged by how many distinct byte values the data has against how many uniform
random bytes of that length would have (and, for longer data, by entropy as well).
"""

from __future__ import annotations

import math
from collections import Counter

MIN_RANDOM_BYTES = 48  # below this, short base64 or text can look as varied as random bytes
DISTINCT_FRACTION = 0.88  # of the distinct values uniform random bytes of that length have
ENTROPY_FROM_BYTES = 1024  # from this length on, entropy is judged as well
MIN_ENTROPY = 7.5  # bits per byte; uniform random 1 KiB measures about 7.8

# Leading bytes of formats that are compressed, archived or encoded media: high entropy for
# a reason that is not encryption.
MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x1f\x8b", 0, "gzip"),
    (b"BZh", 0, "bzip2"),
    (b"\xfd7zXZ\x00", 0, "xz"),
    (b"\x28\xb5\x2f\xfd", 0, "zstd"),
    (b"\x04\x22\x4d\x18", 0, "lz4"),
    (b"\x5d\x00\x00", 0, "lzma"),
    (b"PK\x03\x04", 0, "zip"),
    (b"PK\x05\x06", 0, "zip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7z"),
    (b"Rar!\x1a\x07", 0, "rar"),
    (b"ustar", 257, "tar"),
    (b"\x78\x01", 0, "zlib"),
    (b"\x78\x5e", 0, "zlib"),
    (b"\x78\x9c", 0, "zlib"),
    (b"\x78\xda", 0, "zlib"),
    (b"\x89PNG", 0, "png"),
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"GIF8", 0, "gif"),
    (b"RIFF", 0, "riff"),
    (b"OggS", 0, "ogg"),
    (b"fLaC", 0, "flac"),
    (b"ID3", 0, "mp3"),
    (b"%PDF", 0, "pdf"),
    (b"\x7fELF", 0, "elf"),
    (b"SQLite format 3\x00", 0, "sqlite"),
)


def known_format(data: bytes) -> str:
    """The container format `data` starts with ("gzip", "zip" …), "" when none is known."""
    for magic, offset, name in MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    return ""


def expected_distinct(length: int) -> float:
    """How many distinct values `length` uniform random bytes have on average."""
    return 256 * (1 - (255 / 256) ** length)


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not data:
        return 0.0
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in Counter(data).values())


def looks_random(data: bytes) -> bool:
    """Bytes as varied as uniform random ones of the same length: encrypted or compressed."""
    if len(data) < MIN_RANDOM_BYTES:
        return False
    if len(set(data)) < DISTINCT_FRACTION * expected_distinct(len(data)):
        return False
    return len(data) < ENTROPY_FROM_BYTES or entropy(data) >= MIN_ENTROPY


def looks_encrypted(data: bytes) -> bool:
    """Random-looking and in no known compressed, archive or media format."""
    return looks_random(data) and not known_format(data)


def one_repeated_byte(data: bytes) -> bool:
    """Non-empty and every byte the same (zeros from /dev/zero, a fill pattern)."""
    return bool(data) and data.count(data[:1]) == len(data)
