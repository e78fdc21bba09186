"""SARIF 2.1.0: the report as a static-analysis log that GitHub code scanning accepts.

One run, one reportingDescriptor per distinct rule, one result per finding. File evidence becomes
a physical location relative to the image root (uriBaseId IMAGEROOT); runtime evidence (process
chains, destinations) becomes logical locations. Fingerprints hash only what is stable across runs
of the same image (rule, paths, hashes, argv chains, destinations), never event ids or pids.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import jsonschema

from detonate import __version__
from detonate.attack import technique
from detonate.model.findings import Evidence, Finding, Severity
from detonate.model.report import Report, Verdict

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
IMAGE_ROOT = "IMAGEROOT"
ATTACK_TAXONOMY = "MITRE ATT&CK"
FINGERPRINT_KEY = "detonateFinding/v1"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks by this: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, < 4 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def render(report: Report) -> dict[str, Any]:
    """The SARIF log for `report`, ready for json.dumps."""
    taxa = _taxa(report.findings)
    rules = _rules(report.findings, report.attack_version, taxa)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "detonate",
                "version": report.tool_version or __version__,
                "semanticVersion": report.tool_version or __version__,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"detonate/{report.image.reference}/"},
        "originalUriBaseIds": {
            IMAGE_ROOT: {
                "description": {"text": f"Root filesystem of the image {report.image.reference}"}
            }
        },
        "invocations": [_invocation(report)],
        "results": [
            _result(finding, index[finding.rule_id], report.image.entrypoint)
            for finding in report.findings
        ],
        "properties": _run_properties(report),
    }
    if taxa:
        run["taxonomies"] = [_taxonomy(taxa, report.attack_version)]
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def dumps(report: Report) -> str:
    return json.dumps(render(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@cache
def schema() -> dict[str, Any]:
    """The official OASIS SARIF 2.1.0 schema (errata 01), vendored unchanged."""
    text = resources.files("detonate.report").joinpath("schema/sarif-2.1.0.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(log: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `log` breaks the SARIF 2.1.0 schema."""
    validator = jsonschema.validators.validator_for(schema())
    validator(schema(), format_checker=validator.FORMAT_CHECKER).validate(log)


def _taxa(findings: tuple[Finding, ...]) -> list[str]:
    """The report's technique ids, sorted: the ATT&CK taxonomy's taxa, indexed by rules."""
    return sorted({f.technique for f in findings if f.technique})


def _taxonomy(taxa: list[str], version: str) -> dict[str, Any]:
    """ATT&CK as a SARIF taxonomy: its release, and each technique with its name (no URLs: the
    log names nothing outside the scan)."""
    entries = []
    for tid in taxa:
        known = technique(tid)
        entry: dict[str, Any] = {"id": tid}
        if known is not None:
            entry["name"] = known.name
            if known.previous:
                entry["properties"] = {"previous_ids": list(known.previous)}
        entries.append(entry)
    taxonomy: dict[str, Any] = {
        "name": ATTACK_TAXONOMY,
        "organization": "MITRE",
        "taxa": entries,
    }
    if version:
        taxonomy["version"] = version
    return taxonomy


def _rules(findings: tuple[Finding, ...], version: str, taxa: list[str]) -> list[dict[str, Any]]:
    # The first finding of a rule describes it; rules are sorted so indexes are stable.
    first: dict[str, Finding] = {}
    for finding in findings:
        first.setdefault(finding.rule_id, finding)
    return [_descriptor(first[rule_id], version, taxa) for rule_id in sorted(first)]


def _descriptor(finding: Finding, version: str, taxa: list[str]) -> dict[str, Any]:
    why = finding.why or finding.title
    release = f"MITRE ATT&CK v{version}" if version else "MITRE ATT&CK"
    attack = f"{release} {finding.technique}" if finding.technique else ""
    full = f"{why} ({attack})" if attack else why
    markdown = f"**{finding.title}**\n\n{why}\n\n"
    known = technique(finding.technique) if finding.technique else None
    previous = known.previous if known else ()
    if finding.technique:
        name = f" {known.name}" if known else ""
        was = ", ".join(f"`{p}`" for p in previous)
        markdown += f"- {release} technique: `{finding.technique}`{name}"
        markdown += f" (previously {was})\n" if was else "\n"
    markdown += (
        f"- Category: `{finding.category.value}`\n"
        f"- Severity: {finding.severity.value}, confidence: {finding.confidence.value}\n"
    )
    tags = ["security", finding.category.value]
    if finding.technique:
        tags.append(f"attack:{finding.technique}")
        tags.extend(f"attack:{p}" for p in previous)  # filters written with an older id
    tags.extend(t for t in finding.tags if t not in tags)
    descriptor: dict[str, Any] = {
        "id": finding.rule_id,
        "name": _pascal(finding.rule_id),
        "shortDescription": {"text": finding.title},
        "fullDescription": {"text": full},
        "help": {"text": full, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[finding.severity]},
        "properties": {
            "tags": tags,
            "security-severity": SECURITY_SEVERITY[finding.severity],
            "precision": _precision(finding),
            "category": finding.category.value,
            "technique": finding.technique,
            "technique_previous_ids": list(previous),
            "attack_version": version,
        },
    }
    if finding.technique:
        descriptor["relationships"] = [
            {
                "target": {
                    "id": finding.technique,
                    "index": taxa.index(finding.technique),
                    "toolComponent": {"name": ATTACK_TAXONOMY, "index": 0},
                },
                "kinds": ["relevant"],
            }
        ]
    return descriptor


def _precision(finding: Finding) -> str:
    return {"low": "low", "medium": "medium", "high": "high"}[finding.confidence.value]


def _pascal(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.replace("_", "-").split("-") if part)


def _result(finding: Finding, rule_index: int, entrypoint: tuple[str, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": LEVEL[finding.severity],
        "message": {"text": _message(finding)},
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding)},
        "properties": {
            "category": finding.category.value,
            "technique": finding.technique,
            "severity": finding.severity.value,
            "confidence": finding.confidence.value,
            "source": finding.source,
            "runtime_only": finding.runtime_only,
            "evidence": [_evidence_properties(e) for e in finding.evidence],
        },
    }
    locations = _locations(finding.evidence, entrypoint)
    if locations:
        result["locations"] = locations
    return result


def _message(finding: Finding) -> str:
    text = finding.title
    if finding.evidence:
        first = finding.evidence[0]
        detail = first.path or first.destination or (first.process[-1] if first.process else "")
        text += f": {first.description}" + (f" ({detail})" if detail else "")
        if len(finding.evidence) > 1:
            text += f" and {len(finding.evidence) - 1} more"
    if finding.runtime_only:
        text += ". Seen only at run time: static analysis missed it."
    return text


def _locations(evidence: tuple[Evidence, ...], entrypoint: tuple[str, ...]) -> list[dict[str, Any]]:
    locations: list[dict[str, Any]] = []
    seen: set[str] = set()
    has_file = any(item.path for item in evidence)
    for item in evidence:
        location: dict[str, Any] = {}
        # Code scanning shows only results with a file: runtime evidence without one points at
        # the program that acted ("/opt/x/xmrig -o …" -> opt/x/xmrig), else the entrypoint.
        path = item.path or ("" if has_file else _acting_program(item.process, entrypoint))
        if path:
            location["physicalLocation"] = {
                "artifactLocation": {"uri": _relative_uri(path), "uriBaseId": IMAGE_ROOT}
            }
        logical = []
        if item.process:
            logical.append(
                {
                    "name": item.process[-1],
                    "fullyQualifiedName": " > ".join(item.process),
                    "kind": "process",
                }
            )
        if item.destination:
            logical.append({"name": item.destination, "kind": "network-destination"})
        if logical:
            location["logicalLocations"] = logical
        if not location:
            continue
        key = json.dumps(location, sort_keys=True)
        if key not in seen:
            seen.add(key)
            locations.append(location)
    return locations


def _acting_program(process: tuple[str, ...], entrypoint: tuple[str, ...]) -> str:
    for command in (*process[::-1], " ".join(entrypoint)):
        program = command.split(" ", 1)[0]
        if program.startswith("/") and len(program) > 1:
            return program
    return ""


def _relative_uri(path: str) -> str:
    # "/etc/cron.d/x y" -> "etc/cron.d/x%20y": relative to IMAGEROOT, a valid uri-reference.
    # A name that is not UTF-8 holds lone surrogates (tarfile's surrogateescape): its own bytes.
    return quote(path.lstrip("/"), safe="/", errors="surrogateescape")


def _evidence_properties(item: Evidence) -> dict[str, Any]:
    fields: dict[str, Any] = {"description": item.description}
    for name in ("path", "sha256", "excerpt", "destination"):
        if getattr(item, name):
            fields[name] = getattr(item, name)
    if item.layer_index is not None:
        fields["layer_index"] = item.layer_index
    if item.process:
        fields["process"] = list(item.process)
    if item.event_ids:
        fields["event_ids"] = list(item.event_ids)
    return fields


def _fingerprint(finding: Finding) -> str:
    stable = [
        [e.path, e.sha256, list(e.process), e.destination, e.layer_index] for e in finding.evidence
    ]
    material = json.dumps([finding.rule_id, sorted(stable, key=json.dumps)], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _invocation(report: Report) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": report.verdict is not Verdict.ERROR}
    if report.generated_at:
        # SARIF wants UTC with a "Z": "2026-01-01T00:00:00+00:00" -> "2026-01-01T00:00:00Z".
        invocation["endTimeUtc"] = report.generated_at.replace("+00:00", "Z")
    notifications = []
    if report.error:
        text = f"[{report.error.stage}] {report.error.kind}: {report.error.message}"
        if report.error.hint:
            text += f" Hint: {report.error.hint}"
        notifications.append(
            {"level": "error", "message": {"text": text}, "descriptor": {"id": report.error.kind}}
        )
    for failure in report.detector_failures:
        notifications.append(
            {
                "level": "error",
                "message": {"text": f"detector {failure.detector} failed: {failure.error}"},
                "descriptor": {"id": f"detector-failure/{failure.detector}"},
            }
        )
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _run_properties(report: Report) -> dict[str, Any]:
    image = report.image
    return {
        "verdict": report.verdict.value,
        "score": report.score,
        "image": {
            "reference": image.reference,
            "digest": image.digest,
            "platform": image.platform,
        },
        "run_status": report.run.status,
        "schema_version": report.schema_version,
        "attack_version": report.attack_version,
    }
