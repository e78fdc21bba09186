"""IOC export (`--iocs FILE`): the report's indicators as CSV or as a STIX 2.1 bundle.

Both read `report.iocs`; the context of an indicator is the rules whose evidence mentions it.
STIX ids are UUIDv5 over the indicator, and timestamps come from the report's injected clock,
so the same report always exports the same bundle.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import stix2

from detonate import __version__
from detonate.model.findings import Finding
from detonate.model.report import Report

# Fixed namespace for detonate's deterministic STIX ids (uuid5(NAMESPACE_URL, "detonate")).
STIX_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "detonate")
CSV_HEADER = ("type", "value", "context")
# A spreadsheet would run a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def iocs(report: Report) -> Iterator[tuple[str, str]]:
    """(type, value) pairs, in a stable order: pools, wallets, urls, domains, ips, hashes."""
    found = report.iocs
    yield from (("pool", v) for v in found.pools)
    yield from (("wallet", v) for v in found.wallets)
    yield from (("url", v) for v in found.urls)
    yield from (("domain", v) for v in found.domains)
    for ip in found.ips:
        yield (_ip_type(ip), ip)
    yield from (("sha256", v) for v in found.file_hashes)


def to_csv(report: Report) -> str:
    """CSV with the header `type,value,context`; one row per indicator."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for kind, value in iocs(report):
        writer.writerow((kind, _cell(value), _cell(_context(report.findings, value))))
    return out.getvalue()


def to_stix(report: Report) -> str:
    """A STIX 2.1 bundle (JSON): one indicator per IOC (wallets as patterns over a custom
    x-detonate-wallet type), all referenced by one STIX report created by the detonate identity."""
    when = _timestamp(report.generated_at)
    identity = stix2.v21.Identity(
        id=_stix_id("identity", "detonate"),
        name="detonate",
        identity_class="system",
        created=when,
        modified=when,
    )
    objects: list[object] = [identity]
    for kind, value in iocs(report):
        context = _context(report.findings, value)
        objects.append(
            stix2.v21.Indicator(
                id=_stix_id("indicator", f"{kind}:{value}"),
                created_by_ref=identity.id,
                created=when,
                modified=when,
                valid_from=when,
                name=f"{kind} {value}",
                description=f"Seen by detonate in {report.image.reference}"
                + (f" ({context})" if context else ""),
                indicator_types=["malicious-activity"],
                pattern=_pattern(kind, value),
                pattern_type="stix",
            )
        )
    refs = [o.id for o in objects if isinstance(o, stix2.v21.Indicator)]
    if refs:
        objects.append(
            stix2.v21.Report(
                id=_stix_id("report", f"{report.image.reference}@{report.image.digest}"),
                created_by_ref=identity.id,
                created=when,
                modified=when,
                published=when,
                name=f"detonate: {report.image.reference}",
                description=f"Verdict {report.verdict.value}, score {report.score}/100 "
                f"(detonate {report.tool_version or __version__}).",
                report_types=["malware"],
                object_refs=refs,
            )
        )
    bundle = stix2.v21.Bundle(objects=objects, id=_stix_id("bundle", report.image.reference))
    text: str = bundle.serialize(pretty=True)
    return text + "\n"


def _pattern(kind: str, value: str) -> str:
    quoted = _quote(value)
    match kind:
        case "domain":
            return f"[domain-name:value = '{quoted}']"
        case "ipv4" | "ipv6":
            return f"[{kind}-addr:value = '{quoted}']"
        case "url" | "pool":
            return f"[url:value = '{quoted}']"
        case "wallet":
            # No standard SCO for wallets; STIX 2.1 patterns may name custom "x-" object types,
            # and unlike a custom object in the bundle this keeps strict parsers happy.
            return f"[x-detonate-wallet:address = '{quoted}']"
        case "sha256":
            return f"[file:hashes.'SHA-256' = '{quoted}']"
    raise ValueError(f"no STIX pattern for IOC type {kind}")


def _quote(value: str) -> str:
    # STIX patterning string literals escape only backslash and single quote.
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _ip_type(value: str) -> str:
    try:
        return "ipv6" if ipaddress.ip_address(value).version == 6 else "ipv4"
    except ValueError:
        return "ipv4"


def _context(findings: tuple[Finding, ...], value: str) -> str:
    rules = sorted(
        {
            f.rule_id
            for f in findings
            for e in f.evidence
            if any(value in text for text in (e.destination, e.excerpt, e.path, e.sha256))
            or any(value in step for step in e.process)
        }
    )
    return "rules: " + " ".join(rules) if rules else ""


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _stix_id(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(STIX_NAMESPACE, name)}"


def _timestamp(generated_at: str) -> datetime:
    if generated_at:
        try:
            parsed = datetime.fromisoformat(generated_at)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)
