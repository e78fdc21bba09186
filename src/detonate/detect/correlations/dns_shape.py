"""DNS judged by the shape of the names asked: generated names (DGA, T1568.002) and data
carried out in the labels (DNS tunnelling, T1048.003).

Generated names: at least MIN_GENERATED distinct names under one parent (`xkqvbtrmwp.test`,
`f3a9c1e7b2d4e6f8.example.net`), or registered directly under top-level suffixes, whichever
they are (`aog5b6hcc6xc.test`, `haac7kvgbdve.invalid`: a DGA that rotates its TLDs), whose
varying labels (8 to 24 letters and digits, for most of the names: 75 %) read like no
language: on average under MAX_COMMON_BIGRAMS of their letter pairs are among English's common
ones. Words and names built from them (`prometheus`, `alertmanager`, `cloudfront`) score 0.7 to
1; random letters, hex and digits mixed into letters 0 to 0.6, 0.4 on average. One label alone
is no proof (`fvjuxcvajlzz` or `laapvqhikioo`), a dozen are. The simulator answers every name,
so "most lookups failed" cannot be used here; when a generated name was then contacted (a
connection or request to an address it resolved to, or in its name) the bot found its
rendezvous: critical. Lookups alone are high, medium confidence.

Tunnelling: at least MIN_TUNNEL_NAMES distinct names under one registered domain whose labels
left of it carry long encoded strings (a label of at least MIN_PAYLOAD_LABEL characters in a
base32, hex or base64url alphabet, together at least MIN_PAYLOAD characters). When those
labels, joined in the order asked, decode (base32, hex, base64url) to readable text the
names carried data out: critical; else high. Hash lookups (a blocklist of file hashes asked
over DNS: one label a name, each exactly an md5, sha1 or sha256 in hex, or a sha256 in base32)
have the shape and decode to binary: low, named for what it is (data split into digest-sized
chunks would pass for them: the known gap).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from detonate.detect.correlations.dns_facts import host_facts_in_names
from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.interface import RunView
from detonate.model.findings import Confidence, Evidence, Finding, Severity
from detonate.model.netevents import DnsQueried, HttpRequested, NetEvent, TlsHello

NAME = "dns-shape"
MIN_GENERATED = 6
GENERATED_SHARE = 0.75
LABEL_MIN, LABEL_MAX = 8, 24
MAX_COMMON_BIGRAMS = 0.55
MIN_TUNNEL_NAMES = 8
MIN_RENDEZVOUS, MAX_RENDEZVOUS = 8, 500  # word-template names searched for a rendezvous
MIN_PAYLOAD_LABEL = 20
MIN_PAYLOAD = 200
MIN_TEXT = 48  # decoded bytes that must read as text
TEXT_SHARE = 0.9
# English's most common letter pairs (words, brand and service names are made of them).
_PAIRS = (
    "thheineranreonatenndtiesorteofedisitalarsttontngsehaasouiolevecomedehiriroicneearacelichll"
    "bemasiomurcaeltalansdifohopeecprnoctusacotiltrlyncetutsssorsunlowageiewheewiemadolrtpowena"
    "ulnitsmoowpaimmiaishirsuidosiviaamficivipligtuevldrympfeblabghtyopwosaayexkefrooavagifapgr"
    "odbosprddoucbueiovbyrmepttocfaefcurnscgidayocrcldugaquueffbaeylsvaumppuauplugohtruugdsltpi"
    "rcrregauckewmubrbiptakpuuirgibtlnykirkysobmmfuphogmsyeudmbipub"
)
COMMON_BIGRAMS = frozenset(_PAIRS[i : i + 2] for i in range(0, len(_PAIRS), 2))
HEX = re.compile(r"^[0-9a-f]+$")
BASE32 = re.compile(r"^[a-z2-7]+$")
HASH_LOOKUPS = (
    "Each name carries one whole file digest and they decode to nothing readable: the shape of "
    "a hash blocklist asked over DNS (a mail or file scanner), so this is low."
)
ENCODED = re.compile(r"^[A-Za-z0-9_=-]+$")
SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne"})
SHOWN = 8  # names quoted in evidence


class DnsShape:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        queries = _unique_queries(index)
        hostname = run.run.hostname if run.run is not None else ""
        facts = host_facts_in_names(index, queries, _registered_domain, hostname)
        if len(queries) < min(MIN_GENERATED, MIN_TUNNEL_NAMES):
            return facts
        found: list[Finding] = list(facts)
        tunnelled: set[str] = set()
        for domain, names in _group(queries, _registered_domain).items():
            tunnel = _tunnel(index, domain, names)
            if tunnel is not None:
                found.append(tunnel)
                tunnelled.update(q.name for q in names)
        rest = [q for q in queries if q.name not in tunnelled]
        generated = _generated_names(rest) or _rendezvous_names(index, rest)
        if generated:
            found.append(_dga(index, generated))
        return tuple(found)


def _unique_queries(index: RunIndex) -> list[DnsQueried]:
    seen: dict[str, DnsQueried] = {}
    for event in index.net_events:
        if isinstance(event, DnsQueried):
            name = event.name.lower().rstrip(".")
            if name and not index.is_local(name) and name not in seen:
                seen[name] = event
    return list(seen.values())


def _group(queries: list[DnsQueried], key: Callable[[str], str]) -> dict[str, list[DnsQueried]]:
    groups: dict[str, list[DnsQueried]] = {}
    for query in queries:
        parent = key(query.name.lower().rstrip("."))
        if parent:
            groups.setdefault(parent, []).append(query)
    return groups


def _parent(name: str) -> str:
    return name.partition(".")[2]


def _under_a_suffix(name: str) -> str:
    """One key for every name registered directly under a top-level (or `co.uk`-like) suffix:
    a DGA that spreads its names over several TLDs (`x7k2q.test`, `p4m9v.invalid`) has no
    parent in common."""
    parent = _parent(name)
    labels = parent.split(".")
    top = len(labels) == 1 or (
        len(labels) == 2 and labels[0] in SECOND_LEVEL and len(labels[1]) == 2
    )
    return "." if parent and top else ""


def _name_groups(queries: list[DnsQueried]) -> list[list[DnsQueried]]:
    """Names by parent, and those registered directly under a suffix pooled across suffixes."""
    return [*_group(queries, _parent).values(), *_group(queries, _under_a_suffix).values()]


def _registered_domain(name: str) -> str:
    labels = name.split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:]) if len(labels) > keep else ""


# -- generated names ---------------------------------------------------------------------


def candidate_label(label: str) -> bool:
    return LABEL_MIN <= len(label) <= LABEL_MAX and label.isalnum() and label.isascii()


def common_bigram_share(label: str) -> float:
    """The share of a label's letter pairs that are common in English (0 to 1)."""
    pairs = [label[i : i + 2] for i in range(len(label) - 1)]
    return sum(p in COMMON_BIGRAMS for p in pairs) / len(pairs) if pairs else 1.0


def _generated_names(queries: list[DnsQueried]) -> list[DnsQueried]:
    """The names of the largest parent whose first labels look generated, if enough."""
    best: list[DnsQueried] = []
    for names in _name_groups(queries):
        labels = [(q, q.name.lower().split(".", 1)[0]) for q in names]
        candidates = [(q, label) for q, label in labels if candidate_label(label)]
        if len(candidates) < max(MIN_GENERATED, GENERATED_SHARE * len(names)):
            continue
        shares = [common_bigram_share(label) for _, label in candidates]
        if sum(shares) / len(shares) < MAX_COMMON_BIGRAMS and len(candidates) > len(best):
            best = [q for q, _ in candidates]
    return best


def _dga(index: RunIndex, generated: list[DnsQueried]) -> Finding:
    names = {q.name.lower().rstrip(".") for q in generated}
    addresses = {a for q in generated for a in q.answers}
    parents = sorted({_parent(name) for name in names})
    parent = ", ".join(parents[:4]) + (" …" if len(parents) > 4 else "")
    shown = ", ".join(q.name for q in generated[:SHOWN])
    evidence = [
        Evidence(
            description=f"{len(generated)} lookups of generated names under {parent}: {shown}"
            + (" …" if len(generated) > SHOWN else ""),
            event_ids=tuple(q.seq for q in generated[:20]),
        )
    ]
    contact = _contact(index, names, addresses, generated[0].seq)
    if contact is not None:
        pid = index.actor(contact)
        evidence.append(
            Evidence(
                description=f"then contacted a generated name ({contact.kind})",
                event_ids=(contact.seq,),
                process=index.chain(pid, contact.seq) if pid else (),
                destination=index.net_destination(contact),
                excerpt=f"{contact.method} {contact.url}"
                if isinstance(contact, HttpRequested)
                else "",
            )
        )
    return finding(
        "dga-lookups",
        NAME,
        evidence,
        severity=Severity.CRITICAL if contact is not None else None,
        confidence=Confidence.HIGH if contact is not None else None,
    )


def _shape(label: str) -> str:
    """ "deltaportal79" → "a9": runs of letters and of digits, in order."""
    return re.sub(
        r"9+", "9", re.sub(r"a+", "a", re.sub(r"[0-9]", "9", re.sub(r"[a-z]", "a", label)))
    )


def _rendezvous_names(index: RunIndex, queries: list[DnsQueried]) -> list[DnsQueried]:
    """Names made from words (a word-list DGA: `amberrelay50`, `kettlevault0`): language-like,
    so the bigram test passes them. What gives them away is the search: MIN_RENDEZVOUS or more
    names under one parent, built on one template of words and digits, asked, and at most a
    quarter of them then contacted (the bot stops at the one that answers; a crawler or a
    monitor contacts what it resolves). Letters-only names are caught when they share one
    consonant-and-vowel pattern (a syllable generator's); word names are not (too close to real
    ones)."""
    best: list[DnsQueried] = []
    contacts: _LastContacts | None = None  # indexed once a group is worth asking about
    for names in _name_groups(queries):
        if len(names) < MIN_RENDEZVOUS or len(names) > MAX_RENDEZVOUS:
            continue
        labels = [(q, q.name.lower().split(".", 1)[0]) for q in names]
        shapes = Counter(
            _shape(label) for _, label in labels if LABEL_MIN - 2 <= len(label) <= LABEL_MAX
        )
        if not shapes:
            continue
        shape, count = shapes.most_common(1)[0]
        if "a" in shape and "9" in shape and count >= GENERATED_SHARE * len(names):
            templated = [q for q, label in labels if _shape(label) == shape]
        else:
            templated = _one_syllable_template(labels)
        if not templated:
            continue
        contacts = contacts or _LastContacts.of(index)
        contacted = sum(contacts.after(q) for q in templated)
        if contacted <= max(1, len(templated) // 4) and len(templated) > len(best):
            best = templated  # the widest group: the one that holds the name contacted too
    return best


def _one_syllable_template(labels: list[tuple[DnsQueried, str]]) -> list[DnsQueried]:
    """Pronounceable names (`bibazetoduguhi`, `cufebinisefide`): letters only, each label of
    one consonant-and-vowel pattern, the same for most of the names. Real host names of eight
    letters or more hardly ever share one whole pattern; a generator's syllables always do."""
    patterns = Counter(_syllables(label) for _, label in labels if len(label) >= LABEL_MIN)
    if not patterns:
        return []
    pattern, count = patterns.most_common(1)[0]
    if not pattern or count < GENERATED_SHARE * len(labels):
        return []
    return [q for q, label in labels if _syllables(label) == pattern]


def _syllables(label: str) -> str:
    """ "bibazeto" → "cvcvcvcv"; "" for a label with anything but letters."""
    if not (label.isalpha() and label.isascii()):
        return ""
    return "".join("v" if c in "aeiouy" else "c" for c in label)


def _contact(index: RunIndex, names: set[str], addresses: set[str], after: int) -> NetEvent | None:
    for event in _contacts(index):
        if event.seq <= after:
            continue
        name = _contacted_name(event)
        if name in names or (not name and event.dst_ip in addresses):
            return event
    return None


def _contacts(index: RunIndex) -> Iterator[NetEvent]:
    """The run's contacts: network events other than DNS."""
    for event in index.net_events:
        if not isinstance(event, DnsQueried) and event.dst_port != 53:
            yield event


def _contacted_name(event: NetEvent) -> str:
    """The name a contact was made to (its domain, Host or SNI), "" for an address alone."""
    host = ""
    if isinstance(event, HttpRequested):
        host = event.host.rsplit(":", 1)[0] or event.sni
    elif isinstance(event, TlsHello):
        host = event.sni
    return (event.domain or host).lower()


@dataclass(frozen=True)
class _LastContacts:
    """The last contact's seq per name, and per address for contacts made to an address
    alone: one pass over the run, then "was this query's name contacted after it" for each
    of hundreds of searched names without another."""

    by_name: dict[str, int]
    by_address: dict[str, int]

    @classmethod
    def of(cls, index: RunIndex) -> _LastContacts:
        by_name: dict[str, int] = {}
        by_address: dict[str, int] = {}
        for event in _contacts(index):
            name = _contacted_name(event)
            last = by_name if name else by_address
            key = name or event.dst_ip
            last[key] = max(last.get(key, -1), event.seq)
        return cls(by_name, by_address)

    def after(self, query: DnsQueried) -> bool:
        """`query`'s name, or an address it was answered, contacted after it (as `_contact`)."""
        if self.by_name.get(query.name.lower().rstrip("."), -1) > query.seq:
            return True
        return any(self.by_address.get(a, -1) > query.seq for a in query.answers)


# -- tunnelling --------------------------------------------------------------------------


def tunnelled_queries(index: RunIndex) -> list[DnsQueried]:
    """The names that carried encoded labels out (the payloads of every tunnel's domain); a
    hash blocklist's lookups (each label one whole digest, none decoding to text) carry none."""
    found: list[DnsQueried] = []
    for domain, names in _group(_unique_queries(index), _registered_domain).items():
        payloads = _payloads(domain, names)
        labels = [label for _, label in payloads]
        if labels and all(map(_digest, labels)) and not _decoded_text("".join(labels)):
            continue
        found.extend(query for query, _ in payloads)
    return found


def _payloads(domain: str, queries: list[DnsQueried]) -> list[tuple[DnsQueried, str]]:
    """The names of a tunnel under `domain`, each with its longest encoded label; [] when the
    names are too few or carry too little to be one."""
    if len(queries) < MIN_TUNNEL_NAMES:
        return []
    payloads = []
    for query in queries:
        labels = query.name.rstrip(".")[: -len(domain) - 1].split(".")
        longest = max(labels, key=len)
        if len(longest) >= MIN_PAYLOAD_LABEL and ENCODED.match(longest):
            payloads.append((query, longest))
    if len(payloads) < MIN_TUNNEL_NAMES or sum(len(p) for _, p in payloads) < MIN_PAYLOAD:
        return []
    return payloads


def _tunnel(index: RunIndex, domain: str, queries: list[DnsQueried]) -> Finding | None:
    payloads = _payloads(domain, queries)
    if not payloads:
        return None
    text = _decoded_text("".join(p for _, p in payloads))
    shown = ", ".join(q.name for q, _ in payloads[:3])
    evidence = [
        Evidence(
            description=f"{len(payloads)} names under {domain} carry encoded labels "
            f"({sum(len(p) for _, p in payloads)} characters): {shown} …",
            event_ids=tuple(q.seq for q, _ in payloads[:20]),
            process=_chain(index, payloads[0][0]),
        )
    ]
    if text:
        evidence.append(
            Evidence(description="the labels, joined, decode to text", excerpt=text[:200])
        )
    elif all(_digest(label) for _, label in payloads):
        return finding(
            "dns-tunnel-exfiltration",
            NAME,
            evidence,
            severity=Severity.LOW,
            confidence=Confidence.MEDIUM,
            why=HASH_LOOKUPS,
        )
    return finding(
        "dns-tunnel-exfiltration",
        NAME,
        evidence,
        severity=Severity.CRITICAL if text else None,
    )


def _digest(label: str) -> bool:
    """A label that is one whole file digest: md5, sha1 or sha256 in hex, sha256 in base32."""
    lowered = label.lower()
    if len(lowered) in (32, 40, 64) and HEX.match(lowered):
        return True
    return len(lowered) == 52 and BASE32.match(lowered) is not None


def _chain(index: RunIndex, event: NetEvent) -> tuple[str, ...]:
    pid = index.actor(event)
    return index.chain(pid, event.seq) if pid else ()


def _decoded_text(joined: str) -> str:
    """Readable text the joined labels decode to (base32, hex, base64url), "" if none."""
    candidates: list[Callable[[], bytes]] = []
    upper = joined.upper().rstrip("=")
    candidates.append(lambda: base64.b32decode(upper + "=" * (-len(upper) % 8)))
    if HEX.match(joined.lower()):
        candidates.append(lambda: bytes.fromhex(joined[: len(joined) // 2 * 2]))
    candidates.append(lambda: base64.urlsafe_b64decode(joined + "=" * (-len(joined) % 4)))
    for decode in candidates:
        try:
            data = decode()
        except (binascii.Error, ValueError):
            continue
        if len(data) >= MIN_TEXT:
            printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in data)
            if printable >= TEXT_SHARE * len(data):
                return data.decode("ascii", "replace")
    return ""
