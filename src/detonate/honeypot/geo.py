"""Source country of an address, offline: `iptocc` ships its data (RIR delegation files) in the
wheel, so a lookup needs no account, no download and no network at run time.

    country_of("81.2.69.142")   # "GB"
    country_of("203.0.113.7")   # ""  documentation, loopback and private ranges are no country

Sessions keep the raw address, so countries can be recomputed with newer data.
"""

from __future__ import annotations

import ipaddress

import iptocc

UNKNOWN = ""


def country_of(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return UNKNOWN
    if not parsed.is_global:  # reserved ranges have no country (and the data set agrees)
        return UNKNOWN
    code = iptocc.country_code(str(parsed))
    return code if isinstance(code, str) else UNKNOWN
