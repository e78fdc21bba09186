"""Judgements: what a stage concluded, with the evidence that led there."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """The five stages of an attack on container infrastructure (THREATS.md)."""

    INITIAL_EXECUTION = "initial-execution"
    WEAPONIZATION = "weaponization"
    PROPAGATION = "propagation"
    COMMUNICATION = "communication"
    COLLECTION_EXFILTRATION = "collection-exfiltration"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Confidence(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Evidence:
    """One concrete fact behind a finding. Fields not relevant to it stay empty."""

    description: str
    path: str = ""
    layer_index: int | None = None
    sha256: str = ""
    excerpt: str = ""  # the matched text, decoded stage, command line …
    event_ids: tuple[int, ...] = ()
    process: tuple[str, ...] = ()  # process chain, outermost first: "sh -c …", "wget …"
    destination: str = ""  # "pool.test:3333 (192.0.2.1)"


@dataclass(frozen=True)
class Finding:
    rule_id: str
    title: str
    category: Category
    technique: str  # ATT&CK id: "T1496", "T1036.005"
    severity: Severity
    confidence: Confidence
    source: str  # who said it: "static:config", "static:files", "static:yara", "runtime:…"
    evidence: tuple[Evidence, ...] = ()
    runtime_only: bool = False
    why: str = ""
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class DetectorFailure:
    """A detector that raised on this run: its findings are missing, the scan is not lost."""

    detector: str  # the detector's name: "stratum-mining", "runtime-rules"
    error: str  # "ValueError: …", one line
