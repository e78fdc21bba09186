"""DNS names that carry the host's own facts: a beacon that checks in through its resolver.

    r0.333038363134313833303063.362e31382e34342d66632d7631303938.u0.ns1.telemetry-edge.test
       hex "30861418300c" (the container's host name), "6.18.44-…" (its kernel release)

The labels left of the registered domain are decoded (hex, base32, base64url; each label, and
runs of neighbouring labels joined, as a long value is split over labels) and searched for the
facts `beaconing.py` knows: the container's host name, `id` output, a kernel release, the
architecture, the OS release. Facts found only after decoding are hidden on purpose; two
kinds of fact, or `id` output, in names asked again and again, are the host's identity sent
through DNS, which no resolver client does for itself: critical. The host name alone, encoded,
in several names: high, medium confidence. Plain labels are not searched: service discovery
names carry host names in the clear (`web-1.svc.cluster.local`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from detonate.detect.correlations.beaconing import ID_OUTPUT, fact_kinds
from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.model.netevents import DnsQueried

MIN_NAMES = 3  # lookups carrying facts: one could be chance, a beacon repeats
MIN_VALUE = 8  # characters of an encoded value
HEX = re.compile(r"^[0-9a-fA-F]+$")
ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")
TEXT_SHARE = 0.9


def host_facts_in_names(
    index: RunIndex, queries: list[DnsQueried], registered: Callable[[str], str], hostname: str
) -> tuple[Finding, ...]:
    carrying: list[tuple[DnsQueried, tuple[str, ...], str]] = []
    for query in queries:
        name = query.name.lower().rstrip(".")
        domain = registered(name)
        if not domain:
            continue
        labels = query.name.rstrip(".")[: -len(domain) - 1].split(".")
        text = "\n".join(_decoded(labels))
        if not text:
            continue
        kinds = fact_kinds(text, hostname)
        if ID_OUTPUT.search(text) and "user id" not in kinds:
            kinds = (*kinds, "user id")
        if kinds:
            carrying.append((query, kinds, text))
    if len(carrying) < MIN_NAMES:
        return ()
    all_kinds = sorted({kind for _, found, _ in carrying for kind in found})
    strong = len(all_kinds) >= 2 or any(ID_OUTPUT.search(text) for _, _, text in carrying)
    first, _, text = carrying[0]
    pid = index.actor(first)
    evidence = Evidence(
        description=f"{len(carrying)} DNS names carry the host's {' and '.join(all_kinds)}, "
        f"encoded in their labels",
        event_ids=tuple(q.seq for q, _, _ in carrying[:20]),
        process=index.chain(pid, first.seq) if pid else (),
        destination=first.name,
        excerpt=f"{first.name} → {text[:160]}",
    )
    beacon = finding(
        "dns-host-facts-beacon",
        "dns-shape",
        [evidence],
        severity=None if strong else Severity.HIGH,
        confidence=None if strong else Confidence.MEDIUM,
    )
    return (beacon, finding("host-facts-in-dns-names", "dns-shape", [evidence]))


def _decoded(labels: list[str]) -> list[str]:
    """Readable texts the labels decode to: each label, and each run of neighbours joined."""
    found: list[str] = []
    for start in range(len(labels)):
        for end in range(start + 1, min(len(labels), start + 4) + 1):
            value = "".join(labels[start:end])
            if len(value) < MIN_VALUE or not ALPHABET.match(value):
                continue
            text = _text(value)
            if text and text not in found:
                found.append(text)
    return found


def _text(value: str) -> str:
    candidates: list[Callable[[], bytes]] = []
    if HEX.match(value) and len(value) % 2 == 0:
        candidates.append(lambda: bytes.fromhex(value))
    upper = value.upper()
    candidates.append(lambda: base64.b32decode(upper + "=" * (-len(upper) % 8)))
    candidates.append(lambda: base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    for decode in candidates:
        try:
            data = decode()
        except (binascii.Error, ValueError):
            continue
        if len(data) >= 4 and sum(32 <= b < 127 for b in data) >= TEXT_SHARE * len(data):
            return data.decode("ascii", "replace")
    return ""
