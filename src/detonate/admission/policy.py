"""Stored verdicts of a request's images → one admission decision. Pure: no I/O, no clock.

    malicious   → denied; the message names the image and the finding that decided it
    suspicious  → allowed with a warning (denied with `deny_suspicious`)
    clean       → allowed
    unknown     → `unknown` policy: warn (allow, warn, queue a scan) | deny (queue, deny:
                  "queued, retry") | allow (silently)

"Unknown" is every image without a judgement: a tag that did not resolve in time, a digest never
scanned, a scan still queued or running, a scan that ended in error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from detonate.admission.review import ContainerImage

# The API server truncates longer warnings; keep each one readable whole.
MAX_WARNING_CHARS = 256
MAX_MESSAGE_CHARS = 1024


class UnknownPolicy(StrEnum):
    WARN = "warn"
    DENY = "deny"
    ALLOW = "allow"


@dataclass(frozen=True)
class AdmissionPolicy:
    unknown: UnknownPolicy = UnknownPolicy.WARN
    deny_suspicious: bool = False
    exempt_namespaces: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ImageJudgement:
    """What the store knows about one container's image."""

    image: ContainerImage
    digest: str = ""  # "" when the tag did not resolve
    verdict: str = ""  # malicious | suspicious | clean | error | "" (never judged)
    deciding: str = ""  # "stratum-login: Stratum mining login (T1496): pool.test:3333"
    scan_id: str = ""

    @property
    def known(self) -> bool:
        return self.verdict in ("malicious", "suspicious", "clean")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # malicious | suspicious | unknown | clean | exempt | no-images
    message: str = ""
    warnings: tuple[str, ...] = ()
    to_scan: tuple[ImageJudgement, ...] = field(default=())  # unknown digests to queue


def decide(
    namespace: str, judgements: Iterable[ImageJudgement], policy: AdmissionPolicy
) -> Decision:
    judged = tuple(judgements)
    if namespace in policy.exempt_namespaces:
        return Decision(True, "exempt", f"namespace {namespace!r} is exempt from detonate")
    if not judged:
        return Decision(True, "no-images")
    malicious = [j for j in judged if j.verdict == "malicious"]
    suspicious = [j for j in judged if j.verdict == "suspicious"]
    unknown = [j for j in judged if not j.known]
    to_scan = tuple(j for j in unknown if j.digest) if policy.unknown != UnknownPolicy.ALLOW else ()
    warnings = [_short(f"{_name(j)} is suspicious: {j.deciding}") for j in suspicious]
    if policy.unknown == UnknownPolicy.WARN:
        warnings += [_short(_unknown_text(j)) for j in unknown]
    if malicious:
        message = "; ".join(f"{_name(j)} is malicious: {j.deciding}" for j in malicious)
        return Decision(False, "malicious", _cap(f"detonate: {message}"), tuple(warnings), to_scan)
    if suspicious and policy.deny_suspicious:
        message = "; ".join(f"{_name(j)} is suspicious: {j.deciding}" for j in suspicious)
        return Decision(False, "suspicious", _cap(f"detonate: {message}"), tuple(warnings), to_scan)
    if unknown and policy.unknown == UnknownPolicy.DENY:
        names = ", ".join(_name(j) for j in unknown)
        message = f"detonate: no verdict yet for {names}; a scan is queued, retry in a few minutes"
        if any(not j.digest for j in unknown):
            message += " (an image whose tag did not resolve is not queued: check its name)"
        return Decision(False, "unknown", _cap(message), tuple(warnings), to_scan)
    reason = "suspicious" if suspicious else "unknown" if unknown else "clean"
    return Decision(True, reason, "", tuple(warnings), to_scan)


def _name(judgement: ContainerImage | ImageJudgement) -> str:
    image = judgement.image if isinstance(judgement, ImageJudgement) else judgement
    return f"{image.role} {image.name!r} image {image.image}"


def _unknown_text(judgement: ImageJudgement) -> str:
    if not judgement.digest:
        return f"{_name(judgement)}: its digest could not be resolved, so it has no verdict"
    if judgement.verdict == "error":
        return f"{_name(judgement)}: its scan failed, so it has no verdict"
    return f"{_name(judgement)} has no verdict yet; a scan is queued"


def _short(text: str) -> str:
    return text if len(text) <= MAX_WARNING_CHARS else text[: MAX_WARNING_CHARS - 1] + "…"


def _cap(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
