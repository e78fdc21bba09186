"""Registry credentials a scan request brought along, held in this process's memory only.

Harbor sends a short-lived robot credential with each scan request and expects the scanner to
pull with it:

    {"registry": {"url": "https://core.harbor.domain",
                  "authorization": "Basic cm9ib3Q6c2VjcmV0"}, "artifact": {...}}

`parse_authorization` turns that header value into `PullCredentials`; `ScanCredentials` keeps
them by scan id until the worker that runs the scan takes them (once). They are never written
to the store, a report or a log: a service restart forgets them, and a scan resumed after it
pulls with the service's own credentials. Entries expire (the credential does too) and the map
is bounded, oldest dropped first.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from detonate.model.options import AcquireOptions

MAX_AUTHORIZATION_CHARS = 8192
DEFAULT_TTL_SECONDS = 3600.0
DEFAULT_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class PullCredentials:
    creds: str = field(default="", repr=False)  # "user:password" → skopeo --creds
    token: str = field(default="", repr=False)  # a Bearer token → skopeo --registry-token

    def applied_to(self, options: AcquireOptions) -> AcquireOptions:
        """These credentials instead of the service's own (its auth file, --creds)."""
        return replace(options, auth_file=None, creds=self.creds, registry_token=self.token)


def parse_authorization(value: object) -> PullCredentials | None:
    """ "Basic base64(user:password)" | "Bearer <token>" → credentials; None, or "", → None
    (pull with the service's own). ValueError, whose message never quotes the secret."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("registry.authorization is a string")
    if len(value) > MAX_AUTHORIZATION_CHARS:
        raise ValueError(f"registry.authorization is over {MAX_AUTHORIZATION_CHARS} characters")
    scheme, _, secret = value.strip().partition(" ")
    secret = secret.strip()
    if not secret or not secret.isprintable() or " " in secret:
        raise ValueError("registry.authorization is `Basic <base64>` or `Bearer <token>`")
    if scheme.lower() == "bearer":
        return PullCredentials(token=secret)
    if scheme.lower() != "basic":
        raise ValueError(
            f"registry.authorization's scheme {scheme[:16]!r} is neither Basic nor Bearer"
        )
    try:
        decoded = base64.b64decode(secret, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("registry.authorization's Basic value is not base64 of UTF-8") from None
    user, colon, password = decoded.partition(":")
    if not colon or not user or not password or not decoded.isprintable():
        raise ValueError("registry.authorization's Basic value is not base64 of `user:password`")
    return PullCredentials(creds=decoded)


class ScanCredentials:
    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds, self.max_entries, self.clock = ttl_seconds, max_entries, clock
        self._entries: OrderedDict[str, tuple[float, PullCredentials]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, scan_id: str, credentials: PullCredentials) -> None:
        with self._lock:
            self._expire()
            self._entries.pop(scan_id, None)
            self._entries[scan_id] = (self.clock() + self.ttl_seconds, credentials)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def take(self, scan_id: str) -> PullCredentials | None:
        """The scan's credentials, forgotten here as they are handed out."""
        with self._lock:
            self._expire()
            entry = self._entries.pop(scan_id, None)
        return entry[1] if entry is not None else None

    def acquire_for(self, scan_id: str, options: AcquireOptions) -> AcquireOptions:
        """What the worker pulls the scan with: its own credentials if it brought any."""
        credentials = self.take(scan_id)
        return options if credentials is None else credentials.applied_to(options)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    def _expire(self) -> None:
        now = self.clock()
        while self._entries:
            expires, _ = next(iter(self._entries.values()))
            if expires > now:
                return
            self._entries.popitem(last=False)
