"""One error tree, caught once (in `pipeline.scan` and the CLI).

DetonateError                 every error explains itself: `message` + `hint`
├── UsageError                bad flags or reference (exit 2, no report)
├── AcquireError              stage "acquire"
│   ├── ImageNotFound         no such repository, tag or digest
│   ├── AuthRefused           the registry refused our credentials
│   ├── RegistryUnreachable   DNS, TCP or TLS failure talking to the registry
│   ├── DigestMismatch        a blob's bytes do not match its digest
│   ├── UnsupportedMediaType  a manifest or layer type we cannot read
│   └── UnsupportedPlatform   a multi-arch index without the requested platform
├── UnpackError               stage "unpack"
│   ├── LimitExceeded         a protective limit was hit (bytes, files, ratio)
│   └── MalformedLayer        a layer that is not a readable tar stream
├── StaticError               stage "static"
├── RuleError                 a rule file that does not load (bad metadata, bad match)
├── SandboxError              stage "sandbox"
├── ScanCancelled             the scan was cancelled between stages or during the run
├── RunRecordError            a run record that cannot be written, found or read (rejudge)
├── StoreError                the store (database) cannot do what was asked
└── IntegrationError          what a registry, Harbor or a cluster sent us
    └── BadPayload            a webhook or review body that is not what its sender documents
"""

from __future__ import annotations


class DetonateError(Exception):
    """Base error: says what went wrong (`message`) and what to do (`hint`)."""

    stage = "detonate"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(DetonateError):
    stage = "usage"


class AcquireError(DetonateError):
    stage = "acquire"


class ImageNotFound(AcquireError):
    pass


class AuthRefused(AcquireError):
    pass


class RegistryUnreachable(AcquireError):
    pass


class DigestMismatch(AcquireError):
    pass


class UnsupportedMediaType(AcquireError):
    pass


class UnsupportedPlatform(AcquireError):
    pass


class UnpackError(DetonateError):
    stage = "unpack"


class LimitExceeded(UnpackError):
    """A protective limit was hit; `limit` names it (e.g. "max_files")."""

    def __init__(self, message: str, hint: str = "", limit: str = "") -> None:
        super().__init__(message, hint)
        self.limit = limit


class MalformedLayer(UnpackError):
    pass


class StaticError(DetonateError):
    stage = "static"


class RuleError(DetonateError):
    stage = "rules"


class SandboxError(DetonateError):
    stage = "sandbox"


class ScanCancelled(DetonateError):
    stage = "cancelled"


class RunRecordError(DetonateError):
    stage = "record"


class StoreError(DetonateError):
    stage = "store"


class IntegrationError(DetonateError):
    stage = "integration"


class BadPayload(IntegrationError):
    pass
