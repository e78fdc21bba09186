"""What `detonate serve` was started with; the app, the API and the routers of the webhooks,
Harbor and admission read their knobs from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from detonate.admission.policy import AdmissionPolicy
from detonate.model.options import MiB, ScanOptions, default_cache_dir
from detonate.store import default_url


@dataclass(frozen=True)
class Settings:
    cache_dir: Path = field(default_factory=default_cache_dir)
    db_url: str = ""  # "" → sqlite:///<cache_dir>/detonate.db
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    concurrency: int = 0  # 0 → one worker per two cores
    max_body_bytes: int = 1 * MiB
    profile: str = "full"  # what a request without "profile" gets: "full" | "static"
    platform: str = "linux/amd64"  # what a request without "platform" gets
    resolve_timeout_seconds: int = 20  # the manifest lookup a request waits for
    registry_tls_verify: bool = True  # False only for local test registries (plain HTTP)
    # Local transports (oci:, docker-archive:, …) name files on the server: off unless asked.
    unsafe_allow_local_references: bool = False
    metrics_need_token: bool = False
    queue_url: str = ""  # redis://… → scans go to `detonate worker`s; "" → in-process pool
    # Stored scans other rules judged are re-judged with this service's rules in a background
    # process (store/background_rejudge.py), at most this many a second; not with queue_url:
    # the fleet's workers scan, and re-judge, with their own rules.
    background_rejudge: bool = True
    rejudge_per_second: float = 2.0
    scan: ScanOptions = field(default_factory=ScanOptions)
    # Registry webhooks: sender ("distribution", "harbor", "ghcr", "dockerhub") → shared
    # secret. A sender without a secret has no hook.
    hook_secrets: dict[str, str] = field(default_factory=dict)
    admission: AdmissionPolicy = field(default_factory=AdmissionPolicy)
    admission_lookup_seconds: int = 2  # a tag's digest lookup during an admission review
    admission_tag_ttl_seconds: float = 60.0  # how long a tag's digest is trusted
    admission_verdict_ttl_seconds: float = 10.0  # how long a read verdict is reused

    @property
    def store_url(self) -> str:
        return self.db_url or default_url(self.cache_dir)
