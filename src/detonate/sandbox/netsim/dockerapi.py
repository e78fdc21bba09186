"""A Docker Engine API (2375/2376) that answers like an engine and records every call.

Attackers' scanners ping it, read /version and /info, pull an image, create a (privileged,
host-mounted) container, start it and exec into it. Each step is answered so the next one comes.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qs

from detonate.sandbox.netsim.http import (
    MAX_REQUESTS,
    Request,
    read_request,
    response,
    split_target,
)
from detonate.sandbox.netsim.recorder import Flow, Recorder, preview
from detonate.sandbox.netsim.stream import Stream

DOCKER_PORTS = (2375, 2376)
API_VERSION = "1.43"
ENGINE_VERSION = "24.0.7"
VERSIONED = re.compile(r"^/v1\.\d+(/.*)$")
JSON = "application/json"

# (method, path pattern) → operation name, as the engine's router would dispatch
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), operation)
    for method, pattern, operation in (
        ("GET", r"^/_ping$", "ping"),
        ("HEAD", r"^/_ping$", "ping"),
        ("GET", r"^/version$", "version"),
        ("GET", r"^/info$", "info"),
        ("POST", r"^/images/create$", "image.pull"),
        ("GET", r"^/images/json$", "image.list"),
        ("GET", r"^/containers/json$", "container.list"),
        ("POST", r"^/containers/create$", "container.create"),
        ("POST", r"^/containers/[^/]+/start$", "container.start"),
        ("POST", r"^/containers/[^/]+/wait$", "container.wait"),
        ("POST", r"^/containers/[^/]+/attach$", "container.attach"),
        ("POST", r"^/containers/[^/]+/exec$", "exec.create"),
        ("GET", r"^/containers/[^/]+/json$", "container.inspect"),
        ("GET", r"^/containers/[^/]+/logs$", "container.logs"),
        ("DELETE", r"^/containers/[^/]+$", "container.delete"),
        ("POST", r"^/containers/[^/]+/(kill|stop|restart)$", "container.stop"),
        ("POST", r"^/exec/[^/]+/start$", "exec.start"),
        ("GET", r"^/exec/[^/]+/json$", "exec.inspect"),
        ("POST", r"^/build$", "image.build"),
        ("GET", r"^/swarm$", "swarm.inspect"),
        ("GET", r"^/nodes$", "node.list"),
        ("GET", r"^/secrets$", "secret.list"),
    )
)


def looks_like_docker(target: str) -> bool:
    path = split_target(target).path
    return bool(VERSIONED.match(path)) or path == "/_ping"


def operation_of(method: str, path: str) -> str:
    for route_method, pattern, operation in ROUTES:
        if method == route_method and pattern.match(path):
            return operation
    return ""


def _version() -> dict[str, Any]:
    return {
        "Version": ENGINE_VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": "1.12",
        "GitCommit": "311b9ff",
        "GoVersion": "go1.20.10",
        "Os": "linux",
        "Arch": "amd64",
        "KernelVersion": "5.15.0-91-generic",
        "BuildTime": "2023-10-26T09:07:37.000000000+00:00",
        "Platform": {"Name": "Docker Engine - Community"},
        "Components": [{"Name": "Engine", "Version": ENGINE_VERSION}],
    }


def _info() -> dict[str, Any]:
    return {
        "ID": "7TRN:IPZB:QYBB:VPBQ:UWYJ:KUUQ:W7QH:SHXC:2DGD:3HYT:LQ7W:YYKP",
        "Containers": 3,
        "ContainersRunning": 2,
        "Images": 7,
        "Driver": "overlay2",
        "Name": "ip-172-31-7-12",
        "ServerVersion": ENGINE_VERSION,
        "OperatingSystem": "Ubuntu 22.04.3 LTS",
        "OSType": "linux",
        "Architecture": "x86_64",
        "NCPU": 8,
        "MemTotal": 33_396_326_400,
        "DockerRootDir": "/var/lib/docker",
        "KernelVersion": "5.15.0-91-generic",
        "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin"],
        "Swarm": {"LocalNodeState": "inactive"},
    }


def _answer(operation: str, query: dict[str, list[str]]) -> tuple[int, str, bytes, str]:
    def js(value: Any) -> bytes:
        return json.dumps(value).encode()

    if operation == "ping":
        return 200, "OK", b"OK", "text/plain; charset=utf-8"
    if operation == "version":
        return 200, "OK", js(_version()), JSON
    if operation == "info":
        return 200, "OK", js(_info()), JSON
    if operation == "image.pull":
        image = (query.get("fromImage") or ["unknown"])[0]
        tag = (query.get("tag") or ["latest"])[0]
        lines = [
            {"status": f"Pulling from {image}", "id": tag},
            {"status": "Pulling fs layer", "progressDetail": {}, "id": "a1b2c3d4e5f6"},
            {"status": "Pull complete", "progressDetail": {}, "id": "a1b2c3d4e5f6"},
            {"status": "Digest: sha256:" + secrets.token_hex(32)},
            {"status": f"Status: Downloaded newer image for {image}:{tag}"},
        ]
        return 200, "OK", b"".join(js(line) + b"\r\n" for line in lines), JSON
    if operation in ("image.list", "container.list", "node.list", "secret.list"):
        return 200, "OK", b"[]", JSON
    if operation == "container.create":
        return 201, "Created", js({"Id": secrets.token_hex(32), "Warnings": []}), JSON
    if operation == "exec.create":
        return 201, "Created", js({"Id": secrets.token_hex(32)}), JSON
    if operation in ("container.start", "container.delete", "container.stop"):
        return 204, "No Content", b"", JSON
    if operation == "container.wait":
        return 200, "OK", js({"StatusCode": 0, "Error": None}), JSON
    if operation in ("exec.start", "container.attach", "container.logs"):
        return 200, "OK", b"", "application/vnd.docker.raw-stream"
    if operation == "container.inspect":
        state = {"Status": "running", "Running": True, "Pid": 4242, "ExitCode": 0}
        return 200, "OK", js({"Id": secrets.token_hex(32), "State": state}), JSON
    if operation == "exec.inspect":
        return 200, "OK", js({"Running": False, "ExitCode": 0, "Pid": 4243}), JSON
    if operation == "swarm.inspect":
        return (
            503,
            "Service Unavailable",
            js({"message": "This node is not a swarm manager."}),
            JSON,
        )
    return 404, "Not Found", js({"message": "page not found"}), JSON


def _container_fields(body: bytes) -> dict[str, Any]:
    """image, cmd, privileged and binds from a /containers/create or /exec body."""
    try:
        spec = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # "[[[[…": nested past the decoder's depth
        return {}
    if not isinstance(spec, dict):
        return {}
    host: dict[str, Any] = spec["HostConfig"] if isinstance(spec.get("HostConfig"), dict) else {}
    cmd = [*_list(spec.get("Entrypoint")), *_list(spec.get("Cmd"))]
    if isinstance(spec.get("Cmd"), str):
        cmd = [spec["Cmd"]]
    binds = _list(host.get("Binds"))
    mounts = [
        f"{m.get('Source', '')}:{m.get('Target', '')}"
        for m in _list(host.get("Mounts"))
        if isinstance(m, dict)
    ]
    return {
        "image": str(spec.get("Image") or ""),
        "cmd": [str(part) for part in cmd][:64],
        "privileged": bool(host.get("Privileged") or spec.get("Privileged")),
        "binds": [str(bind) for bind in [*binds, *mounts]][:64],
    }


def _list(value: Any) -> list[Any]:
    """A field the engine takes as an array; anything else a scanner sends counts as none."""
    return value if isinstance(value, list) else []


def record_call(recorder: Recorder, flow: Flow, request: Request, record_bytes: int) -> str:
    url = split_target(request.target)
    versioned = VERSIONED.match(url.path)
    path = versioned.group(1) if versioned else url.path
    operation = operation_of(request.method, path)
    fields: dict[str, Any] = {}
    if operation in ("container.create", "exec.create"):
        fields = _container_fields(request.body)
    if operation == "image.pull":
        query = parse_qs(url.query)
        image = (query.get("fromImage") or [""])[0]
        tag = (query.get("tag") or [""])[0]
        fields["image"] = f"{image}:{tag}" if tag and image else image
    recorder.emit(
        "docker_api_called",
        flow,
        method=request.method,
        path=path,
        query=url.query,
        operation=operation,
        body_preview=preview(request.body, record_bytes),
        tls=flow.tls,
        **fields,
    )
    return operation


async def serve_docker(stream: Stream, flow: Flow, recorder: Recorder, record_bytes: int) -> None:
    for _ in range(MAX_REQUESTS):
        if not stream.buffer and not await stream.fill():
            return
        request = await read_request(stream, record_bytes)
        operation = record_call(recorder, flow, request, record_bytes)
        status, reason, body, content_type = _answer(
            operation, parse_qs(split_target(request.target).query)
        )
        extra = (
            ("Api-Version", API_VERSION),
            ("Docker-Experimental", "false"),
            ("Ostype", "linux"),
            ("Connection", "keep-alive" if request.keep_alive else "close"),
        )
        reply = response(status, reason, body, content_type, extra)
        reply = reply.replace(b"Server: nginx", f"Server: Docker/{ENGINE_VERSION} (linux)".encode())
        if request.method == "HEAD":
            reply = reply[: reply.index(b"\r\n\r\n") + 4]
        await stream.send(reply)
        if not request.keep_alive or operation in ("exec.start", "container.attach"):
            return
