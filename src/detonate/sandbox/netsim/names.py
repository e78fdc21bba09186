"""Which name the sample resolved to reach an address: one sinkhole address per name.

Every name gets the next address of 198.18.0.0/15 (reserved for benchmarking, never routed on
the internet); every address of it lands in the simulator anyway. A connection to 198.18.0.7
then says which name the sample looked up first.
"""

from __future__ import annotations

import ipaddress

POOL = ipaddress.ip_network("198.18.0.0/15")


class NameBook:
    def __init__(self, fallback: str, per_name: bool = True) -> None:
        self._fallback = fallback
        self._per_name = per_name
        self._by_name: dict[str, str] = {}
        self._by_address: dict[str, str] = {}
        self._next = int(POOL.network_address) + 1
        self._last = int(POOL.broadcast_address) - 1

    def address_for(self, name: str) -> str:
        name = name.lower().rstrip(".")
        if not self._per_name:
            self._by_address.setdefault(self._fallback, name)
            return self._fallback
        known = self._by_name.get(name)
        if known is not None:
            return known
        if self._next > self._last:
            return self._fallback
        address = str(ipaddress.ip_address(self._next))
        self._next += 1
        self._by_name[name] = address
        self._by_address[address] = name
        return address

    def name_of(self, address: str) -> str:
        return self._by_address.get(address, "")
