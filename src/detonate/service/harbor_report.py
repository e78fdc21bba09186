"""A detonate JSON report → Harbor's vulnerability report (pluggable scanner spec 1.1/1.2).

Harbor knows one kind of item, a vulnerability in a package; a finding becomes one:

    {"rule_id": "stratum-login", "severity": "critical", "technique": "T1496",
     "evidence": [{"description": "stratum login", "process": ["sh -c run", "xmrig -o …"]}]}
  → {"id": "stratum-login", "package": "xmrig -o …", "version": "", "fix_version": "",
     "severity": "Critical", "description": "Stratum mining login: stratum login …",
     "links": ["https://attack.mitre.org/techniques/T1496/"],
     "vendor_attributes": {"attack_technique": "T1496", "category": "…", "runtime_only": true}}

Harbor gates deployments ("prevent vulnerable images from running") on the report's severity,
and a malicious image may be decided by several medium findings together: the verdict itself is
therefore one more item (`detonate:verdict`), Critical for malicious and High for suspicious, so
the gate and the counts in Harbor's UI follow detonate's verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"
HARBOR_REPORT_MIME = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
RAW_MIME = "application/vnd.scanner.adapter.vuln.report.raw"
DETONATE_MIME = "application/vnd.detonate.report+json"
METADATA_MIME = "application/vnd.scanner.adapter.metadata+json; version=1.0"
SCAN_REQUEST_MIMES = (
    "application/vnd.scanner.adapter.scan.request+json; version=1.0",
    "application/vnd.scanner.adapter.scan.request+json; version=1.1",
)
SCAN_RESPONSE_MIME = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
ERROR_MIME = "application/vnd.scanner.adapter.error+json; version=1.0"
CONSUMES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
PRODUCES = (REPORT_MIME, HARBOR_REPORT_MIME, RAW_MIME, DETONATE_MIME)

SEVERITY = {
    "info": "Negligible",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "critical": "Critical",
}
ORDER = ("Unknown", "Negligible", "Low", "Medium", "High", "Critical")
VERDICT_SEVERITY = {"malicious": "Critical", "suspicious": "High"}
MAX_DESCRIPTION_CHARS = 4000


@dataclass(frozen=True)
class ScannerInfo:
    name: str = "detonate"
    vendor: str = "detonate"
    version: str = ""


def metadata(scanner: ScannerInfo, properties: Mapping[str, str]) -> dict[str, Any]:
    return {
        "scanner": {"name": scanner.name, "vendor": scanner.vendor, "version": scanner.version},
        "capabilities": [
            {
                "type": "vulnerability",
                "consumes_mime_types": list(CONSUMES),
                "produces_mime_types": list(PRODUCES),
            }
        ],
        "properties": {
            "harbor.scanner-adapter/scanner-type": "dynamic-threat-analysis",
            **properties,
        },
    }


def vulnerability_report(
    report: Mapping[str, Any], artifact: Mapping[str, str], scanner: ScannerInfo
) -> dict[str, Any]:
    items = [_item(finding) for finding in report.get("findings") or []]
    verdict = str(report.get("verdict", ""))
    if verdict in VERDICT_SEVERITY:
        items.insert(0, _verdict_item(report, verdict))
    severity = max((item["severity"] for item in items), key=ORDER.index, default="Unknown")
    return {
        "generated_at": report.get("generated_at") or "",
        "artifact": dict(artifact),
        "scanner": {"name": scanner.name, "vendor": scanner.vendor, "version": scanner.version},
        "severity": severity,
        "vulnerabilities": items,
    }


def _item(finding: Mapping[str, Any]) -> dict[str, Any]:
    evidence = [e for e in finding.get("evidence") or [] if isinstance(e, Mapping)]
    technique = str(finding.get("technique", ""))
    return {
        "id": str(finding.get("rule_id", "")),
        "package": _package(evidence),
        "version": "",
        "fix_version": "",
        "severity": SEVERITY.get(str(finding.get("severity", "")), "Unknown"),
        "description": _description(finding, evidence),
        "links": [attack_link(technique)] if technique else [],
        "vendor_attributes": {
            "attack_technique": technique,
            "category": str(finding.get("category", "")),
            "runtime_only": bool(finding.get("runtime_only", False)),
            "confidence": str(finding.get("confidence", "")),
            "source": str(finding.get("source", "")),
        },
    }


def _verdict_item(report: Mapping[str, Any], verdict: str) -> dict[str, Any]:
    image = report.get("image") or {}
    count = len(report.get("findings") or [])
    return {
        "id": "detonate:verdict",
        "package": str(image.get("reference", "")),
        "version": str(image.get("digest", "")),
        "fix_version": "",
        "severity": VERDICT_SEVERITY[verdict],
        "description": f"detonate judged this image {verdict} (score {report.get('score', 0)}, "
        f"{count} finding{'s' if count != 1 else ''})",
        "links": [],
        "vendor_attributes": {"verdict": verdict, "score": report.get("score", 0)},
    }


def _package(evidence: list[Mapping[str, Any]]) -> str:
    """The file when the evidence names one, else the innermost process, else nothing."""
    for item in evidence:
        if item.get("path"):
            return str(item["path"])
    for item in evidence:
        process = item.get("process") or []
        if process:
            return str(process[-1])
    return ""


def _description(finding: Mapping[str, Any], evidence: list[Mapping[str, Any]]) -> str:
    lines = [str(finding.get("title", ""))]
    if finding.get("why"):
        lines.append(str(finding["why"]))
    for item in evidence:
        parts = [str(item.get("description", ""))]
        for key in ("path", "destination", "excerpt"):
            if item.get(key):
                parts.append(f"{key}: {item[key]}")
        lines.append(" — ".join(part for part in parts if part))
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= MAX_DESCRIPTION_CHARS else text[: MAX_DESCRIPTION_CHARS - 1] + "…"


def attack_link(technique: str) -> str:
    """T1496 → …/techniques/T1496/; T1036.005 → …/techniques/T1036/005/."""
    return "https://attack.mitre.org/techniques/" + technique.replace(".", "/") + "/"


def error_body(message: str, code: str = "error") -> dict[str, Any]:
    """Harbor reads `error.message`; `code` is the service's machine-readable code, which every
    error of the service carries (the spec's Error object allows more properties)."""
    return {"error": {"message": message, "code": code}}
