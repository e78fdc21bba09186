"""Indicators of compromise collected over a scan."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Iocs:
    domains: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    wallets: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()  # "stratum+tcp://pool.test:3333"
    file_hashes: tuple[str, ...] = ()  # sha256 of files findings point at

    def merged(self, other: Iocs) -> Iocs:
        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(sorted(set(a) | set(b)))

        return Iocs(
            domains=union(self.domains, other.domains),
            ips=union(self.ips, other.ips),
            urls=union(self.urls, other.urls),
            wallets=union(self.wallets, other.wallets),
            pools=union(self.pools, other.pools),
            file_hashes=union(self.file_hashes, other.file_hashes),
        )
