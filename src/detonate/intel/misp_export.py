"""The threat report's window as one MISP event (`detonate report --format misp`), in the MISP
core format (`{"Event": {…}}`, as MISP imports and PyMISP loads it):

- one `container-image` object per finished scan: image-name, registry, tag, digest (the
  manifest's SHA-256), architecture; its comment has the verdict, score and deciding finding;
- one attribute per IOC the scans found — domain, ip-dst, url (pools), xmr/btc or text
  (wallets) — referenced from the images that contacted it (`communicates-with`);
- one `ip-src` attribute per honeypot source address (its sessions and requests in the
  comment), not for IDS: honeypot sources include scanners and researchers;
- ATT&CK techniques of the scans' findings as tags (`mitre-attack:T1496`).

Written without PyMISP at run time (plain JSON); the tests load it with PyMISP and check every
object against the template PyMISP ships. UUIDs are UUIDv5 over what they describe, and the
timestamps come from the store: the same store exports the same event.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detonate.attack import current_id
from detonate.intel.scanned_images import ScannedImage, scanned_image
from detonate.intel.window import IOC_KINDS, aware, finished_scans
from detonate.report.ioc_export import STIX_NAMESPACE
from detonate.store import Store
from detonate.store.honeypot_models import HoneypotSession
from detonate.store.models import FindingRow, Ioc, Scan, ScanIoc

CONTAINER_IMAGE_TEMPLATE = ("4aa82e67-ed3d-48a2-8ecd-7a39cf2c3f3c", "1")  # misp-objects
DISTRIBUTION_INHERIT = "5"  # attributes and objects: as the event
DISTRIBUTION_ORG = "0"  # the event: this organisation only, until someone decides otherwise
THREAT_LEVEL_MEDIUM = "2"
ANALYSIS_COMPLETED = "2"


def _uuid(name: str) -> str:
    return str(uuid.uuid5(STIX_NAMESPACE, f"misp:{name}"))


def _epoch(moment: datetime) -> str:
    return str(int(aware(moment).timestamp()))


def event(store: Store, since: datetime, until: datetime) -> str:
    with Session(store.engine) as session:
        scans = finished_scans(session, since, until)
        scan_ids = [scan.id for scan in scans]
        ioc_rows = (
            session.execute(
                select(ScanIoc.scan_id, Ioc.kind, Ioc.value)
                .join(Ioc, ScanIoc.ioc_id == Ioc.id)
                .where(ScanIoc.scan_id.in_(scan_ids), Ioc.kind.in_(IOC_KINDS))
            ).all()
            if scan_ids
            else []
        )
        techniques = (
            session.scalars(
                select(FindingRow.technique)
                .where(FindingRow.scan_id.in_(scan_ids), FindingRow.technique != "")
                .distinct()
            ).all()
            if scan_ids
            else []
        )
        # per source and honeypot, summed in the database: a busy honeypot has 100,000s
        sessions = session.execute(
            select(
                HoneypotSession.source_ip,
                HoneypotSession.honeypot,
                func.min(HoneypotSession.first_seen),
                func.max(HoneypotSession.last_seen),
                func.count(),
                func.sum(HoneypotSession.requests),
            )
            .where(HoneypotSession.first_seen >= since, HoneypotSession.first_seen < until)
            .group_by(HoneypotSession.source_ip, HoneypotSession.honeypot)
        ).all()
        images = {scan.id: scanned_image(scan) for scan in scans}

    stamp = _epoch(until)
    attributes: dict[tuple[str, str], dict[str, Any]] = {}
    contacted: dict[str, list[str]] = defaultdict(list)
    for scan_id, kind, value in sorted(ioc_rows):
        attribute = attributes.get((kind, value))
        if attribute is None:
            attribute = attributes[(kind, value)] = _ioc_attribute(kind, value, stamp)
        contacted[scan_id].append(attribute["uuid"])
    for address, source in _by_source(sessions).items():
        attributes[("source", address)] = _source_attribute(address, source)
    objects = [
        _image_object(scan, images[scan.id], contacted.get(scan.id, []), stamp) for scan in scans
    ]
    document = {
        "Event": {
            "uuid": _uuid(f"event:{since.isoformat()}/{until.isoformat()}"),
            "info": f"detonate threat report {since.date().isoformat()} – "
            f"{until.date().isoformat()}",
            "date": until.date().isoformat(),
            "timestamp": stamp,
            "published": False,
            "analysis": ANALYSIS_COMPLETED,
            "threat_level_id": THREAT_LEVEL_MEDIUM,
            "distribution": DISTRIBUTION_ORG,
            "Orgc": {"name": "detonate", "uuid": _uuid("org:detonate")},
            "Tag": [{"name": "tlp:amber"}]
            # stored scans carry the ids of their day: tagged with the current ones
            + [{"name": f"mitre-attack:{t}"} for t in sorted({current_id(t) for t in techniques})],
            "Attribute": list(attributes.values()),
            "Object": objects,
        }
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _ioc_attribute(kind: str, value: str, stamp: str) -> dict[str, Any]:
    if kind == "domain":
        kind_type, category = "domain", "Network activity"
    elif kind == "ip":
        kind_type, category = "ip-dst", "Network activity"
    elif kind == "pool":
        kind_type, category = "url", "Network activity"
    else:
        kind_type, category = _wallet_type(value), "Financial fraud"
    return {
        "uuid": _uuid(f"ioc:{kind}:{value}"),
        "type": kind_type,
        "category": category,
        "value": value,
        "to_ids": True,
        "distribution": DISTRIBUTION_INHERIT,
        "timestamp": stamp,
        "comment": f"{kind} found by detonate's scans",
    }


def _wallet_type(address: str) -> str:
    """MISP's wallet types by address shape; other coins are text (MISP has no generic one)."""
    if address[:1] in ("4", "8") and len(address) in (95, 106):
        return "xmr"
    if (address[:1] in ("1", "3") and 26 <= len(address) <= 35) or address.startswith("bc1"):
        return "btc"
    return "text"


@dataclass
class _Source:
    first: datetime
    last: datetime
    sessions: int = 0
    requests: int = 0
    honeypots: set[str] = field(default_factory=set)


def _by_source(rows: Any) -> dict[str, _Source]:
    """(source_ip, honeypot, first, last, sessions, requests) rows, merged per address."""
    sources: dict[str, _Source] = {}
    for source_ip, honeypot, first, last, count, requests in rows:
        try:
            address = str(ipaddress.ip_address(source_ip))
        except ValueError:
            continue
        source = sources.setdefault(address, _Source(aware(first), aware(last)))
        source.first, source.last = min(source.first, aware(first)), max(source.last, aware(last))
        source.sessions += count
        source.requests += requests or 0
        source.honeypots.add(honeypot)
    return dict(sorted(sources.items()))


def _source_attribute(address: str, source: _Source) -> dict[str, Any]:
    return {
        "uuid": _uuid(f"source:{address}"),
        "type": "ip-src",
        "category": "Network activity",
        "value": address,
        "to_ids": False,
        "distribution": DISTRIBUTION_INHERIT,
        "timestamp": _epoch(source.last),
        "first_seen": source.first.isoformat(),
        "last_seen": source.last.isoformat(),
        "comment": f"Docker API honeypot source: {source.sessions} session(s), "
        f"{source.requests} request(s) on {', '.join(sorted(source.honeypots))}",
    }


def _image_object(scan: Scan, image: ScannedImage, iocs: list[str], stamp: str) -> dict[str, Any]:
    object_uuid = _uuid(f"scan:{scan.id}")
    values: list[tuple[str, str, str, str]] = [("image-name", "text", "Other", image.name)]
    if image.registry:
        values.append(("registry", "text", "Other", image.registry))
    if image.tag:
        values.append(("tag", "text", "Other", image.tag))
    if image.digest:
        values.append(
            ("digest", "sha256", "Payload delivery", image.digest.removeprefix("sha256:"))
        )
    if "/" in image.platform:
        values.append(("architecture", "text", "Other", image.platform.split("/", 2)[1]))
    attributes = [
        {
            "uuid": _uuid(f"scan:{scan.id}:{relation}"),
            "object_relation": relation,
            "type": kind,
            "category": category,
            "value": value,
            "to_ids": kind == "sha256" and scan.verdict == "malicious",
            "distribution": DISTRIBUTION_INHERIT,
            "timestamp": stamp,
        }
        for relation, kind, category, value in values
    ]
    verdict = f"detonate verdict {scan.verdict or 'unknown'}, score {scan.score or 0}"
    if scan.deciding_title:
        verdict += f": {scan.deciding_title}"
    return {
        "uuid": object_uuid,
        "name": "container-image",
        "meta-category": "misc",
        "description": "Generic container-image object template to represent container images "
        "across platforms.",
        "template_uuid": CONTAINER_IMAGE_TEMPLATE[0],
        "template_version": CONTAINER_IMAGE_TEMPLATE[1],
        "distribution": DISTRIBUTION_INHERIT,
        "timestamp": stamp,
        "comment": f"{verdict} ({image.reference}, scan {scan.id}, profile {scan.profile})",
        "Attribute": attributes,
        "ObjectReference": [
            {
                "uuid": _uuid(f"scan:{scan.id}:contacted:{target}"),
                "object_uuid": object_uuid,
                "referenced_uuid": target,
                "relationship_type": "communicates-with",
                "timestamp": stamp,
            }
            for target in sorted(set(iocs))
        ],
    }
