"""The figures of a threat report over a time window, read from the store.

    figures = gather(store, since, until)     # → a JSON-able dict, rendered by `render`

Definitions (also in docs/honeypot.md):
- a session is one source address on one honeypot over a time window; an attack is a session
  in which the source deployed something (a container create or an exec);
- scans are the store's scans created in the window (every source, not only the honeypot);
- category and objective shares are shares of done scans with at least one finding in it;
- time to first attack: from a honeypot's first start to its first attack.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detonate.attack import current_id
from detonate.model.findings import Category
from detonate.store import Store
from detonate.store.honeypot_models import HoneypotDeployment, HoneypotSession, HoneypotStart
from detonate.store.models import FindingRow, Ioc, Scan, ScanIoc

TOP = 10
VERDICTS = ("malicious", "suspicious", "clean", "error")
# An objective is read from the ATT&CK techniques of a scan's findings (prefix match).
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "mining": ("T1496",),
    "ddos": ("T1498", "T1499"),
    "backdoor": ("T1098", "T1136", "T1053", "T1543", "T1547", "T1546", "T1556", "T1505"),
    "worm": ("T1046", "T1210", "T1570", "T1610", "T1021"),
}
# Families come from the rules that name one (the built-in YARA rules are family-shaped).
FAMILY_RULES = {
    "xmrig-miner": "XMRig",
    "miner-config": "XMRig",
    "kinsing-style-setup": "Kinsing-style",
    "ld-preload-process-hider": "libprocesshider-style",
    "competitor-killer": "TeamTNT-style competitor killer",
    "docker-api-propagation": "Docker API worm",
}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(moment: datetime) -> str:
    return _aware(moment).date().isoformat()


def _days(since: datetime, until: datetime) -> list[str]:
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _top(counter: Counter[str], limit: int = TOP) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in counter.most_common(limit)]


def _shares(counter: Counter[str], total: int, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "count": counter[name],
            "share": round(counter[name] / total, 4) if total else 0.0,
        }
        for name in names
    ]


def gather(store: Store, since: datetime, until: datetime) -> dict[str, Any]:
    since, until = _aware(since), _aware(until)
    # Columns, not ORM objects: a window may hold 100,000 sessions, and a scan's row carries
    # its whole report document, which the figures never need.
    in_window = (Scan.created_at >= since, Scan.created_at < until)
    window_scan_ids = select(Scan.id).where(*in_window)
    with Session(store.engine) as session:
        sessions = session.execute(
            select(
                HoneypotSession.id,
                HoneypotSession.source_ip,
                HoneypotSession.country,
                HoneypotSession.first_seen,
            ).where(HoneypotSession.first_seen >= since, HoneypotSession.first_seen < until)
        ).all()
        deployments = session.execute(
            select(
                HoneypotDeployment.session_id,
                HoneypotDeployment.image,
                HoneypotDeployment.escape_intent_json,
                HoneypotDeployment.decoded_json,
            ).where(HoneypotDeployment.at >= since, HoneypotDeployment.at < until)
        ).all()
        starts = session.execute(
            select(HoneypotStart.honeypot, func.min(HoneypotStart.started_at)).group_by(
                HoneypotStart.honeypot
            )
        ).all()
        first_attacks = dict(
            session.execute(
                select(HoneypotSession.honeypot, func.min(HoneypotDeployment.at))
                .join(HoneypotDeployment, HoneypotDeployment.session_id == HoneypotSession.id)
                .group_by(HoneypotSession.honeypot)
            ).all()
        )
        scans = session.execute(
            select(Scan.id, Scan.created_at, Scan.verdict, Scan.status, Scan.reference).where(
                *in_window
            )
        ).all()
        findings = session.execute(
            select(
                FindingRow.scan_id,
                FindingRow.rule_id,
                FindingRow.title,
                FindingRow.category,
                FindingRow.technique,
            ).where(FindingRow.scan_id.in_(window_scan_ids))
        ).all()
        iocs = session.execute(
            select(ScanIoc.scan_id, Ioc.kind, Ioc.value)
            .join(Ioc, Ioc.id == ScanIoc.ioc_id)
            .where(ScanIoc.scan_id.in_(window_scan_ids))
        ).all()

    days = _days(since, until)
    attack_sessions = {d.session_id for d in deployments}
    sessions_per_day: Counter[str] = Counter(_day(s.first_seen) for s in sessions)
    attacks_per_day: Counter[str] = Counter(
        _day(s.first_seen) for s in sessions if s.id in attack_sessions
    )
    scans_per_day: Counter[str] = Counter(_day(s.created_at) for s in scans)
    verdicts_per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for scan in scans:
        if scan.verdict:
            verdicts_per_day[_day(scan.created_at)][scan.verdict] += 1

    done = [scan for scan in scans if scan.status == "done"]
    done_ids = {scan.id for scan in done}
    by_scan: dict[str, list[Any]] = defaultdict(list)
    for finding in findings:
        if finding.scan_id in done_ids:
            by_scan[finding.scan_id].append(finding)
    categories: Counter[str] = Counter()
    objectives: Counter[str] = Counter()
    families: Counter[str] = Counter()
    techniques: dict[str, dict[str, Any]] = {}
    for scan_id, rows in by_scan.items():
        categories.update({row.category for row in rows})
        # stored scans carry the ids of their day: counted under the current ones
        seen = {current_id(row.technique) for row in rows if row.technique}
        objectives.update(
            {
                name
                for name, prefixes in OBJECTIVES.items()
                if any(t.startswith(prefixes) for t in seen)
            }
        )
        families.update({FAMILY_RULES[r.rule_id] for r in rows if r.rule_id in FAMILY_RULES})
        for row in rows:
            technique = current_id(row.technique) if row.technique else ""
            entry = techniques.setdefault(
                technique,
                {
                    "technique": technique,
                    "category": row.category,
                    "example": row.title,
                    "findings": 0,
                    "scans": set(),
                },
            )
            entry["findings"] += 1
            entry["scans"].add(scan_id)
    iocs_by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for _scan, kind, value in iocs:
        iocs_by_kind[kind][value] += 1

    ttfa = []
    for name, started_at in sorted(starts):
        started = _aware(started_at)
        first_at = first_attacks.get(name)
        first = _aware(first_at) if first_at is not None else None
        ttfa.append(
            {
                "honeypot": name,
                "started_at": started.isoformat(),
                "first_attack_at": first.isoformat() if first else None,
                "seconds": round((first - started).total_seconds(), 1) if first else None,
            }
        )

    escapes: Counter[str] = Counter()
    decoded = 0
    for deployment in deployments:
        escapes.update(
            intent.split(":", 1)[0] for intent in json.loads(deployment.escape_intent_json)
        )
        decoded += bool(json.loads(deployment.decoded_json))

    return {
        "schema_version": 1,
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "totals": {
            "sessions": len(sessions),
            "attacks": len(attack_sessions & {s.id for s in sessions}),
            "deployments": len(deployments),
            "deployments_with_decoded_base64": decoded,
            "scans": len(scans),
            "scans_done": len(done),
            "sources": len({s.source_ip for s in sessions}),
        },
        "per_day": [
            {
                "day": day,
                "sessions": sessions_per_day[day],
                "attacks": attacks_per_day[day],
                "scans": scans_per_day[day],
                "verdicts": {v: verdicts_per_day[day][v] for v in VERDICTS},
            }
            for day in days
        ],
        "time_to_first_attack": ttfa,
        "categories": _shares(categories, len(done), tuple(c.value for c in Category)),
        "objectives": _shares(objectives, len(done), tuple(OBJECTIVES)),
        "escape_intent": _top(escapes),
        "top_images": _top(Counter(d.image for d in deployments)),
        "top_scanned_images": _top(Counter(scan.reference for scan in scans)),
        "families": _top(families),
        "pools": _top(iocs_by_kind["pool"]),
        "wallets": _top(iocs_by_kind["wallet"]),
        "c2_domains": _top(iocs_by_kind["domain"]),
        "c2_addresses": _top(iocs_by_kind["ip"]),
        "source_countries": _top(Counter(s.country or "unknown" for s in sessions), 50),
        "techniques": sorted(
            (
                {**entry, "scans": len(entry["scans"])}
                for entry in techniques.values()
                if entry["technique"]
            ),
            key=lambda entry: (-entry["scans"], entry["technique"]),
        ),
        "verdicts": dict(Counter(scan.verdict for scan in scans if scan.verdict)),
    }
