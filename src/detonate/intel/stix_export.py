"""The threat report's window as a STIX 2.1 bundle (`detonate report --format stix`):

- one `malware-analysis` per finished scan (product detonate, result from the verdict), its
  `sample_ref` an `artifact` SCO: the image's manifest, by its registry URL and SHA-256 (the
  image digest is that hash). STIX 2.1 has no container-image SCO and lets `sample_ref` point
  only at a file, network-traffic or artifact, so a custom `x-` object could not go there; a
  scan whose digest is unknown has no `sample_ref`;
- one `indicator` per pool, wallet, domain and address the scans found;
- one `observed-data` per honeypot source address: its `ipv4-addr`/`ipv6-addr`, first and last
  seen over its sessions, `number_observed` the sessions (a busy honeypot has 100,000 sessions
  from a few thousand sources; stix2 takes milliseconds per object).

Ids are UUIDv5 over what they describe, so the same store exports the same bundle.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import datetime
from typing import Any

import stix2
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detonate import __version__
from detonate.intel.scanned_images import scanned_image
from detonate.intel.window import IOC_KINDS, aware, finished_scans
from detonate.report.ioc_export import STIX_NAMESPACE
from detonate.store import Store
from detonate.store.honeypot_models import HoneypotSession
from detonate.store.models import Ioc, Scan, ScanIoc

RESULTS = {"malicious": "malicious", "suspicious": "suspicious", "clean": "benign"}
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _id(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(STIX_NAMESPACE, name)}"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _pattern(kind: str, value: str) -> str:
    quoted = _quote(value)
    if kind == "domain":
        return f"[domain-name:value = '{quoted}']"
    if kind == "ip":
        try:
            version = ipaddress.ip_address(value).version
        except ValueError:
            version = 4
        return f"[ipv{version}-addr:value = '{quoted}']"
    if kind == "pool":
        return f"[url:value = '{quoted}']"
    return f"[x-detonate-wallet:address = '{quoted}']"  # no standard SCO for wallets


def _manifest_artifact(scan: Scan) -> Any:
    """The artifact SCO of the scan's image manifest, or None when its digest is unknown. Its
    id is derived from the hash: scans of one image share it."""
    image = scanned_image(scan)
    if not image.manifest_url:
        return None
    return stix2.v21.Artifact(
        mime_type=MANIFEST_TYPE,
        url=image.manifest_url,
        hashes={"SHA-256": image.digest.removeprefix("sha256:")},
    )


def bundle(store: Store, since: datetime, until: datetime) -> str:
    with Session(store.engine) as session:
        scans = finished_scans(session, since, until)
        scan_ids = [scan.id for scan in scans]
        iocs = (
            session.execute(
                select(Ioc.kind, Ioc.value)
                .join(ScanIoc, ScanIoc.ioc_id == Ioc.id)
                .where(ScanIoc.scan_id.in_(scan_ids), Ioc.kind.in_(IOC_KINDS))
                .distinct()
            ).all()
            if scan_ids
            else []
        )
        sources = session.execute(
            select(
                HoneypotSession.source_ip,
                func.min(HoneypotSession.first_seen),
                func.max(HoneypotSession.last_seen),
                func.count(),
            )
            .where(HoneypotSession.first_seen >= since, HoneypotSession.first_seen < until)
            .group_by(HoneypotSession.source_ip)
            .order_by(HoneypotSession.source_ip)
        ).all()

    identity = stix2.v21.Identity(
        id=_id("identity", "detonate"),
        name="detonate",
        identity_class="system",
        created=aware(since),
        modified=aware(since),
    )
    objects: list[Any] = [identity]
    samples: set[str] = set()
    for scan in scans:
        started = aware(scan.started_at or scan.created_at)
        sample = _manifest_artifact(scan)
        if sample is not None and sample.id not in samples:
            samples.add(sample.id)
            objects.append(sample)
        objects.append(
            stix2.v21.MalwareAnalysis(
                id=_id("malware-analysis", scan.id),
                created_by_ref=identity.id,
                created=aware(scan.created_at),
                modified=aware(scan.finished_at or scan.created_at),
                product="detonate",
                version=scan.tool_version or __version__,
                analysis_started=started,
                analysis_ended=aware(scan.finished_at or started),
                result=RESULTS.get(scan.verdict or "", "unknown"),
                result_name=scan.deciding_title or None,
                sample_ref=sample.id if sample is not None else None,
            )
        )
    for kind, value in sorted(iocs):
        objects.append(
            stix2.v21.Indicator(
                id=_id("indicator", f"{kind}:{value}"),
                created_by_ref=identity.id,
                created=aware(since),
                modified=aware(since),
                valid_from=aware(since),
                name=f"{kind} {value}",
                indicator_types=["malicious-activity"],
                pattern=_pattern(kind, value),
                pattern_type="stix",
            )
        )
    window = f"{since.isoformat()}/{until.isoformat()}"
    for source_ip, first_seen, last_seen, count in sources:
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            continue
        source_type = stix2.v21.IPv6Address if address.version == 6 else stix2.v21.IPv4Address
        source = source_type(value=str(address))
        objects.append(source)
        objects.append(
            stix2.v21.ObservedData(
                id=_id("observed-data", f"{address}@{window}"),
                created_by_ref=identity.id,
                created=aware(first_seen),
                modified=aware(last_seen),
                first_observed=aware(first_seen),
                last_observed=aware(last_seen),
                number_observed=count,
                object_refs=[source.id],
            )
        )
    document = stix2.v21.Bundle(objects=objects, id=_id("bundle", window)).serialize()
    # Indented by json, not serialize(pretty=True): stix2's pretty key ordering searches the
    # whole bundle for every key (20 s for 200 sessions, quadratic)
    return json.dumps(json.loads(document), indent=2, ensure_ascii=False) + "\n"
