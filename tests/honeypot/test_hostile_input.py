"""Malformed and hostile requests get Docker-style JSON errors or a closed connection, and the
honeypot keeps answering. Everything on 127.0.0.1, bounded."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import quote

from .conftest import LiveHoneypot
from .test_attack_sequences import call


def raw(live: LiveHoneypot, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are; everything the honeypot answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def status_and_json(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def still_answers(live: LiveHoneypot) -> bool:
    return call(live, "GET", "/_ping")[0] == 200


def test_malformed_json_gets_a_400_with_the_reason(start_honeypot):
    live = start_honeypot()
    for body in (b"{bad", b"[1, 2]", b'{"Image": "nginx", "Cmd": 7}', b"\xff\xfe"):
        status, _, answer = call(live, "POST", "/v1.41/containers/create", body)
        assert status == 400, body
        assert json.loads(answer)["message"].startswith("invalid JSON"), body
    status, _, answer = call(live, "POST", "/v1.41/containers/create", {"Cmd": ["sh"]})
    assert status == 400 and json.loads(answer) == {"message": "No image was specified"}
    assert live.deployments() == []
    binary = live.requests()[3]
    assert binary.body_encoding == "base64" and binary.body == "//4="  # recorded, not lost
    assert still_answers(live)


def test_unknown_paths_and_methods_get_the_engines_404(start_honeypot):
    live = start_honeypot()
    for method, path in (
        ("GET", "/v1.41/nope"),
        ("PUT", "/v1.41/containers/create"),
        ("GET", "/v1.41/../../etc/passwd"),
        ("GET", "/v1.41/containers/%2e%2e%2f%2e%2e/json"),
        ("POST", "/v9.99/containers/create"),
    ):
        status, headers, body = call(live, method, path)
        assert status == 404, path
        assert headers["content-type"] == "application/json"
        assert "message" in json.loads(body)


def test_it_is_not_a_proxy(start_honeypot):
    live = start_honeypot()
    # an absolute URI or CONNECT asks a proxy to fetch elsewhere: the honeypot only answers
    for request in (
        b"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n",
        b"CONNECT 203.0.113.9:443 HTTP/1.1\r\nHost: 203.0.113.9:443\r\n\r\n",
    ):
        status, body = status_and_json(raw(live, request + b"", timeout=2))
        assert status == 404 and body == {"message": "page not found"}
    assert still_answers(live)


def test_huge_bodies_are_refused_and_recorded_bodies_are_capped(start_honeypot):
    live = start_honeypot(max_body_bytes=64 * 1024, record_body_bytes=1024)
    status, body = status_and_json(
        raw(
            live,
            b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 1000000000\r\n\r\n{",
        )
    )
    assert status == 413 and "larger than 65536" in str(body["message"])
    chunked = b"".join(b"8000\r\n" + b"a" * 0x8000 + b"\r\n" for _ in range(3))
    status, _ = status_and_json(
        raw(
            live,
            b"POST /v1.41/build HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked,
        )
    )
    assert status == 413
    big = {"Image": "nginx:latest", "Env": ["X=" + "y" * 5000]}
    status, _, _ = call(live, "POST", "/v1.41/containers/create", big)
    assert status == 201
    recorded = live.requests()[-1]
    assert recorded.body_truncated and len(recorded.body) == 1024
    assert recorded.body_size == len(json.dumps(big))
    assert still_answers(live)


def test_garbage_and_oversized_heads_are_refused(start_honeypot):
    live = start_honeypot()
    status, _ = status_and_json(raw(live, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"))
    assert status == 400
    status, _ = status_and_json(
        raw(live, b"GET /_ping HTTP/1.1\r\nX-Long: " + b"a" * 40_000 + b"\r\n\r\n")
    )
    assert status == 431
    assert still_answers(live)


def test_slowloris_is_cut_off(start_honeypot):
    live = start_honeypot(request_seconds=1.0)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(b"GET /_ping HTTP/1.1\r\n")
        closed = False
        for _ in range(20):  # a header line every 0.25 s never finishes the request
            time.sleep(0.25)
            try:
                sock.sendall(b"X-A: b\r\n")
                if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                    closed = True
                    break
            except BlockingIOError:
                continue
            except OSError:
                closed = True
                break
    assert closed and time.monotonic() - started < 5
    assert still_answers(live)


def test_request_rate_per_source_is_limited(start_honeypot):
    live = start_honeypot(requests_per_second=1.0, burst=5)
    statuses = [call(live, "GET", "/_ping")[0] for _ in range(8)]
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    limited = next(r for r in live.requests() if r.status == 429)
    assert limited.path == "/_ping"  # a limited request is still recorded


def test_image_names_that_are_not_image_names_are_refused(start_honeypot):
    live = start_honeypot()
    # a transport or URL would make the worker read a local file or fetch a URL: the engine's
    # own answer for such a name is "invalid reference format", and nothing is queued
    for image in (
        "oci-archive:///etc/shadow",
        "docker-archive:/var/x.tar",
        "http://x.test/a",
        "A B",
    ):
        status, _, body = call(live, "POST", "/v1.41/images/create?fromImage=" + quote(image))
        assert (status, json.loads(body)) == (400, {"message": "invalid reference format"})
        status, _, body = call(live, "POST", "/v1.41/containers/create", {"Image": image})
        assert (status, json.loads(body)) == (400, {"message": "invalid reference format"})
    assert live.deployments() == [] and live.store.list_scans() == []


def test_the_worker_pulls_only_from_allowed_registries(start_honeypot, tmp_path):
    from detonate.honeypot.worker import drain, registry_of
    from detonate.model.options import ScanOptions

    live = start_honeypot()
    image = "203.0.113.5:5000/miner:1"
    call(live, "POST", "/v1.41/images/create?fromImage=" + quote(image))
    assert call(live, "POST", "/v1.41/containers/create", {"Image": image})[0] == 201
    assert registry_of("docker://" + image) == "203.0.113.5:5000"
    assert registry_of("docker://library/alpine:3") == "docker.io"
    live.flush()  # the deployment's scan is queued behind the answer
    (failed,) = drain(live.store, ScanOptions(cache_dir=tmp_path / "cache"))
    assert failed.status.value == "failed"
    assert "registry 203.0.113.5:5000 not allowed" in failed.reason
    assert failed.started_at is None  # never claimed, never pulled
