"""The report: one versioned document, the source of truth every rendering reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from detonate.model.findings import DetectorFailure, Finding
from detonate.model.iocs import Iocs
from detonate.model.runtime import FileChange, Honeytoken, ProcessInfo

SCHEMA_VERSION = "1.2"  # 1.1: detector_failures, ruleset_hash; 1.2: attack_version


class Verdict(StrEnum):
    MALICIOUS = "malicious"
    SUSPICIOUS = "suspicious"
    CLEAN = "clean"
    ERROR = "error"


@dataclass(frozen=True)
class ImageInfo:
    reference: str
    digest: str = ""  # manifest digest
    platform: str = ""
    config_digest: str = ""
    layers: int = 0
    files: int = 0
    bytes_unpacked: int = 0
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""


@dataclass(frozen=True)
class StageError:
    stage: str  # "acquire", "unpack", "static", "sandbox"
    kind: str  # error class name: "ImageNotFound"
    message: str
    hint: str = ""


@dataclass(frozen=True)
class RunSummary:
    """How the dynamic run went; status "not-run" for static-only scans."""

    # not-run | exited | timeout | idle | trace-limit | interrupted | error
    status: str = "not-run"
    reason: str = ""
    duration_seconds: float = 0.0
    exit_code: int | None = None
    events: int = 0
    events_lost: int = 0
    parse_errors: int = 0
    skipped_sleep_seconds: float = 0.0
    # pid → seconds its compressed waits skipped ("4711": 900.0)
    skipped_seconds_by_process: tuple[tuple[int, float], ...] = ()
    cpu_seconds: float = 0.0
    memory_peak_bytes: int = 0
    limits_hit: tuple[str, ...] = ()  # "memory", "pids", "cpu", "disk", "inodes", "output"
    events_in_report: int = 0  # the report's `events` list is capped; the rest are artifacts
    # wall seconds of the sandbox's phases: ("setup", 0.41), ("run", 2.1), ("collect", …), …
    phase_seconds: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class StageTiming:
    stage: str
    seconds: float


@dataclass(frozen=True)
class Report:
    image: ImageInfo
    verdict: Verdict
    score: int
    findings: tuple[Finding, ...] = ()
    iocs: Iocs = field(default_factory=Iocs)
    # What the dynamic run saw; empty for static-only scans.
    processes: tuple[ProcessInfo, ...] = ()
    network: dict[str, Any] = field(default_factory=dict)
    files: tuple[FileChange, ...] = ()
    events: tuple[dict[str, Any], ...] = ()  # the run's event stream, oldest first
    honeytokens: tuple[Honeytoken, ...] = ()  # bait the sandbox planted for this run
    suppressed: tuple[Finding, ...] = ()  # matched a suppression: not scored, kept for audit
    # Detectors that raised on this run: the verdict is judged without their findings.
    detector_failures: tuple[DetectorFailure, ...] = ()
    ruleset_hash: str = ""  # of every rule file that judged this scan (rules/loader.py)
    # the ATT&CK release the findings' technique ids come from ("19"); "" in older reports
    attack_version: str = ""
    run: RunSummary = field(default_factory=RunSummary)
    error: StageError | None = None
    timings: tuple[StageTiming, ...] = ()
    generated_at: str = ""  # ISO 8601 UTC, from the injected clock
    tool_version: str = ""
    schema_version: str = SCHEMA_VERSION
