"""A registry Bearer token (Harbor's `registry.authorization: Bearer …`) reaches the registry.

Debian's docker-registry only does htpasswd (Basic) auth, so it cannot issue or check a token:
here a recording endpoint on 127.0.0.1 answers `/v2/` with a Bearer challenge, as a token-auth
registry does, and the real skopeo's next request is checked for the token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from detonate.acquire import SkopeoSource
from detonate.acquire.reference import parse_reference
from detonate.errors import AcquireError
from detonate.model.options import AcquireOptions

TOKEN = "test-only-registry-token"


class Challenging(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization", "")
        self.seen.append((self.path, authorization))
        self.send_response(401)
        realm = f'Bearer realm="http://{self.headers["Host"]}/token",service="test"'
        self.send_header("WWW-Authenticate", realm)
        self.send_header("Content-Type", "application/json")
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def challenging_registry() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    handler = type("Recording", (Challenging,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.registry
def test_the_registry_token_is_sent_as_bearer(challenging_registry) -> None:
    host, seen = challenging_registry
    options = AcquireOptions(tls_verify=False, registry_token=TOKEN, timeout_seconds=20)
    with pytest.raises(AcquireError):  # the endpoint refuses everything
        SkopeoSource(options).raw_manifest(parse_reference(f"docker://{host}/library/app:1"))
    manifest_requests = [auth for path, auth in seen if "/manifests/" in path]
    assert manifest_requests and all(auth == f"Bearer {TOKEN}" for auth in manifest_requests)
    assert not any(path.startswith("/token") for path, _ in seen)  # used as is, not exchanged
