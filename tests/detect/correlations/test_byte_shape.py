"""Encrypted, compressed or plain: what a file's bytes look like, judged fairly for small files
(a ransomware note's data files are often tens of bytes)."""

from __future__ import annotations

import base64
import gzip
import lzma
import random
import zipfile
from io import BytesIO

from detonate.detect.correlations.byte_shape import (
    MIN_RANDOM_BYTES,
    known_format,
    looks_encrypted,
    looks_random,
    one_repeated_byte,
)

TEXT = b"id,name,email,created\n" + b"".join(
    b"%d,user-%d,user%d@example.test,2024-01-%02d\n" % (i, i, i, i % 28 + 1) for i in range(300)
)


def _random(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def test_random_bytes_of_any_length_from_the_minimum_look_random() -> None:
    for n in (MIN_RANDOM_BYTES, 55, 80, 300, 1000, 5000, 70000):
        hits = sum(looks_random(_random(n, seed)) for seed in range(200))
        assert hits >= 195, (n, hits)  # a few short draws repeat enough values to miss


def test_text_base64_hex_and_programs_do_not() -> None:
    for n in (MIN_RANDOM_BYTES, 100, 1000, len(TEXT)):
        assert not looks_random(TEXT[:n]), n
    for n in (64, 300, 3000):
        assert not looks_random(base64.b64encode(_random(n, n)))
        assert not looks_random(_random(n, n).hex().encode())
    with open("/bin/sh", "rb") as program:
        assert not looks_random(program.read(60000))
    assert not looks_random(_random(MIN_RANDOM_BYTES - 1, 1))  # too short to judge


def test_compressed_data_is_random_but_in_a_known_format() -> None:
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.csv", TEXT)
    for data, name in (
        (gzip.compress(_random(4000, 7), mtime=0), "gzip"),
        (lzma.compress(_random(4000, 8)), "xz"),
        (archive.getvalue(), "zip"),
    ):
        assert known_format(data) == name
        assert looks_random(data[-2000:]) and not looks_encrypted(data)
    ciphertext = _random(len(TEXT) + 16, 9)
    assert known_format(ciphertext) == "" and looks_encrypted(ciphertext)


def test_a_fill_is_one_repeated_byte() -> None:
    assert one_repeated_byte(b"\x00" * 50) and one_repeated_byte(b"\xff")
    assert not one_repeated_byte(b"") and not one_repeated_byte(b"\x00" * 49 + b"\x01")
