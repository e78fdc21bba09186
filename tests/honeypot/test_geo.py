"""Source countries from iptocc's bundled data: offline, no account, no download."""

from __future__ import annotations

import socket

import pytest

from detonate.honeypot.geo import country_of


def test_public_addresses_map_to_their_registry_country(monkeypatch):
    # the lookup must not touch the network: any socket use here fails the test
    def no_network(*args, **kwargs):
        raise AssertionError("the country lookup opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert country_of("8.8.8.8") == "US"
    assert country_of("193.0.6.139") == "NL"  # RIPE NCC's own address
    assert country_of("2001:67c:2e8::1") == "NL"


@pytest.mark.parametrize(
    "address",
    ["203.0.113.7", "198.51.100.1", "192.0.2.9", "127.0.0.1", "10.1.2.3", "2001:db8::1", "x"],
)
def test_documentation_private_and_loopback_addresses_have_no_country(address):
    assert country_of(address) == ""
