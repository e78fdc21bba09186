"""Every protective limit stops the unpack with LimitExceeded naming the limit and its flag."""

from __future__ import annotations

import pytest
from unpack_images import OCI_TAR, Layer

from detonate.errors import LimitExceeded, MalformedLayer
from detonate.model.options import UnpackLimits


def expect_limit(run, limit: str) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        run()
    assert caught.value.limit == limit
    assert "--" + limit.replace("_", "-") in caught.value.hint
    return caught.value


def test_huge_file(unpack_layers):
    layer = Layer().huge_file("big", 2 * 1024 * 1024)
    expect_limit(
        lambda: unpack_layers([layer], UnpackLimits(max_file_bytes=1024 * 1024)), "max_file_bytes"
    )


def test_too_many_entries(unpack_layers):
    layer = Layer()
    for i in range(50):
        layer.file(f"f{i}")
    expect_limit(lambda: unpack_layers([layer], UnpackLimits(max_files=40)), "max_files")


def test_entries_are_counted_over_all_layers(unpack_layers):
    layers = [Layer().file(f"l{n}-{i}") for n in range(3) for i in range(1)]
    assert unpack_layers(layers, UnpackLimits(max_files=3)).entries
    more = [*layers, Layer().file("one-more")]
    expect_limit(lambda: unpack_layers(more, UnpackLimits(max_files=3)), "max_files")


def test_total_bytes_over_all_layers(unpack_layers):
    layers = [Layer().file("a", b"x" * 600), Layer().file("b", b"y" * 600)]
    expect_limit(
        lambda: unpack_layers(layers, UnpackLimits(max_total_bytes=1000)), "max_total_bytes"
    )


def test_gzip_bomb(unpack_layers):
    # 64 MiB of zeros gzip to ~64 KiB: a ratio of ~1000
    layer = Layer().huge_file("zeros", 64 * 1024 * 1024)
    limits = UnpackLimits(max_ratio=100, ratio_floor_bytes=1024 * 1024)
    error = expect_limit(lambda: unpack_layers([layer], limits), "max_ratio")
    assert "decompression bomb" in error.message


def test_ratio_is_not_checked_below_the_floor(unpack_layers):
    layer = Layer().huge_file("zeros", 2 * 1024 * 1024)
    rootfs = unpack_layers([layer], UnpackLimits(max_ratio=2, ratio_floor_bytes=8 * 1024 * 1024))
    assert rootfs.by_path()["/zeros"].size == 2 * 1024 * 1024


def test_too_many_layers(unpack_layers):
    layers = [Layer().file(f"f{i}") for i in range(5)]
    expect_limit(lambda: unpack_layers(layers, UnpackLimits(max_layers=4)), "max_layers")


def test_over_long_path(unpack_layers):
    name = "/".join(["abcdefgh"] * 40)  # 359 bytes, pax header
    expect_limit(
        lambda: unpack_layers([Layer().file(name)], UnpackLimits(max_path_bytes=256)),
        "max_path_bytes",
    )


def test_over_long_symlink_target(unpack_layers):
    layer = Layer().symlink("s", "x" * 300)
    expect_limit(lambda: unpack_layers([layer], UnpackLimits(max_path_bytes=256)), "max_path_bytes")


def test_oversized_pax_header_is_malformed_not_a_memory_bomb(unpack_layers):
    header = bytearray(512)
    header[0:9] = b"PaxHeader"
    header[100:108] = b"0000644\0"
    header[124:136] = b"%011o\0" % (1 << 33)  # an 8 GiB extended header
    header[156:157] = b"x"
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    tar = bytes(header) + bytes(1024)
    with pytest.raises(MalformedLayer):
        unpack_layers([tar], media_type=OCI_TAR)
