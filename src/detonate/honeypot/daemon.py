"""One session's fake Docker daemon: answers the Engine API from consistent in-memory state.

    daemon = FakeDaemon()
    answer = daemon.handle("POST", "/v1.41/containers/create", {"name": ["x"]}, body)
    answer.status, answer.body, answer.deployment   # 201, {"Id": …}, the container as asked

Nothing runs: a pulled image is a name and a made-up id, a started container is a status. What
the attacker asked for (image, command, env, mounts, modes) is handed back as a `Deployment`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from detonate.acquire.reference import parse_reference
from detonate.errors import UsageError

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
ENGINE_VERSION = "26.1.4"
JSON_TYPE = "application/json"
RAW_STREAM = "application/vnd.docker.raw-stream"
VERSIONED = re.compile(r"^/v(1\.\d{1,2})(/.*)$")
TRANSPORT_PREFIXES = ("oci:", "oci-archive:", "docker-archive:", "docker-daemon:", "dir:")
PRELOADED = ("nginx:latest", "redis:7", "ubuntu:22.04")  # a host that has been used a little
NAMES = (
    ("admiring", "brave", "eager", "focused", "jolly", "nifty", "quirky", "sharp", "vibrant"),
    ("babbage", "curie", "darwin", "euler", "hopper", "lovelace", "noether", "turing", "yalow"),
)


@dataclass(frozen=True)
class Deployment:
    """An image as the attacker ran it: `kind` "create" (a container) or "exec" (a command)."""

    kind: str
    container_id: str
    image: str
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    env: tuple[str, ...]
    user: str
    binds: tuple[str, ...]
    privileged: bool
    pid_mode: str
    network_mode: str
    cap_add: tuple[str, ...]

    def config(self) -> dict[str, Any]:
        return {
            "entrypoint": list(self.entrypoint) if self.entrypoint is not None else None,
            "cmd": list(self.cmd) if self.cmd is not None else None,
            "env": list(self.env),
            "user": self.user,
            "binds": list(self.binds),
            "privileged": self.privileged,
            "pid_mode": self.pid_mode,
            "network_mode": self.network_mode,
            "cap_add": list(self.cap_add),
        }

    def escape_intent(self) -> list[str]:
        """What in the request reaches for the host: each is a container escape route."""
        intents = []
        if self.privileged:
            intents.append("privileged")
        if self.pid_mode == "host":
            intents.append("host-pid")
        if self.network_mode == "host":
            intents.append("host-network")
        intents.extend(f"cap-add:{cap}" for cap in self.cap_add)
        for bind in self.binds:
            source = bind.split(":", 1)[0]
            if source.startswith("/"):
                intents.append(f"host-mount:{source}")
        return intents


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-able, or bytes for raw answers
    content_type: str = JSON_TYPE
    stream: list[bytes] | None = None  # newline-delimited JSON progress (pulls)
    deployment: Deployment | None = None
    close: bool = False  # a hijacked stream (attach, exec start) ends with the connection


@dataclass
class Container:
    id: str
    name: str
    image: str
    image_id: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    created: str
    status: str = "created"  # created, running, exited
    started_at: str = "0001-01-01T00:00:00Z"


@dataclass
class Exec:
    id: str
    container_id: str
    cmd: tuple[str, ...]
    running: bool = False


@dataclass
class FakeDaemon:
    images: dict[str, str] = field(default_factory=dict)  # "repo:tag" → image id
    containers: dict[str, Container] = field(default_factory=dict)
    execs: dict[str, Exec] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for reference in PRELOADED:
            self.images.setdefault(reference, _image_id(reference))

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[str, Answer]:
        """(operation, answer) for a request path without its `/v1.xx` prefix."""
        for route_method, pattern, operation in ROUTES:
            if method != route_method and not (method == "HEAD" and route_method == "GET"):
                continue
            match = pattern.match(path)
            if match:
                try:
                    return operation, getattr(self, "_" + operation.replace(".", "_"))(
                        query, body, *match.groups()
                    )
                except BadRequest as error:
                    return operation, error_answer(400, str(error))
        return "", error_answer(404, "page not found")

    # -- system ------------------------------------------------------------------------------

    def _ping(self, query: dict[str, list[str]], body: bytes) -> Answer:
        return Answer(200, b"OK", "text/plain; charset=utf-8")

    def _version(self, query: dict[str, list[str]], body: bytes) -> Answer:
        return Answer(200, version())

    def _info(self, query: dict[str, list[str]], body: bytes) -> Answer:
        running = sum(c.status == "running" for c in self.containers.values())
        return Answer(200, info(len(self.containers) + 3, running + 2, len(self.images)))

    # -- images ------------------------------------------------------------------------------

    def _image_list(self, query: dict[str, list[str]], body: bytes) -> Answer:
        return Answer(
            200,
            [
                {
                    "Id": image_id,
                    "RepoTags": [reference],
                    "RepoDigests": [],
                    "Created": 1714000000,
                    "Size": 77_800_000,
                    "Containers": -1,
                    "Labels": None,
                    "ParentId": "",
                    "SharedSize": -1,
                }
                for reference, image_id in sorted(self.images.items())
            ],
        )

    def _image_pull(self, query: dict[str, list[str]], body: bytes) -> Answer:
        # POST /images/create?fromImage=alpine&tag=3.19   (or fromImage=alpine:3.19)
        image = _first(query, "fromImage")
        if not image:
            return error_answer(400, "fromImage or fromSrc is required")
        reference = normalize(image, _first(query, "tag"))
        if not valid_reference(reference):
            return error_answer(400, "invalid reference format")
        self.images[reference] = _image_id(reference)
        layer = _image_id(reference)[7:19]
        name, tag = reference.rsplit(":", 1)
        lines = [
            {"status": f"Pulling from {_library(name)}", "id": tag},
            {"status": "Pulling fs layer", "progressDetail": {}, "id": layer},
            {
                "status": "Downloading",
                "progressDetail": {"current": 3_408_000, "total": 3_408_000},
                "progress": "[" + "=" * 49 + ">]  3.408MB/3.408MB",
                "id": layer,
            },
            {"status": "Verifying Checksum", "progressDetail": {}, "id": layer},
            {"status": "Download complete", "progressDetail": {}, "id": layer},
            {"status": "Pull complete", "progressDetail": {}, "id": layer},
            {"status": "Digest: " + _image_id(reference + "@manifest")},
            {"status": f"Status: Downloaded newer image for {reference}"},
        ]
        return Answer(200, stream=[json.dumps(line).encode() + b"\r\n" for line in lines])

    def _image_inspect(self, query: dict[str, list[str]], body: bytes, name: str) -> Answer:
        reference = normalize(name)
        image_id = self.images.get(reference) or next(
            (i for i in self.images.values() if i.startswith(name) or i[7:].startswith(name)), ""
        )
        if not image_id:
            return error_answer(404, f"No such image: {name}")
        tags = [ref for ref, i in self.images.items() if i == image_id]
        return Answer(
            200,
            {
                "Id": image_id,
                "RepoTags": tags,
                "RepoDigests": [],
                "Created": "2024-04-25T08:00:00Z",
                "Os": "linux",
                "Architecture": "amd64",
                "Size": 77_800_000,
                "Config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
                "RootFS": {"Type": "layers", "Layers": [_image_id(image_id)]},
            },
        )

    # -- containers --------------------------------------------------------------------------

    def _container_create(self, query: dict[str, list[str]], body: bytes) -> Answer:
        config = _json_object(body)
        image = config.get("Image")
        if not isinstance(image, str) or not image:
            return error_answer(400, "No image was specified")
        reference = normalize(image)
        if not valid_reference(reference):
            return error_answer(400, "invalid reference format")
        image_id = self.images.get(reference)
        if image_id is None:
            return error_answer(404, f"No such image: {reference}")
        name = _first(query, "name") or _free_name({c.name for c in self.containers.values()})
        if any(c.name == name for c in self.containers.values()):
            return error_answer(
                409, f'Conflict. The container name "/{name}" is already in use by container.'
            )
        host_config = config.get("HostConfig") if isinstance(config.get("HostConfig"), dict) else {}
        assert isinstance(host_config, dict)
        container = Container(
            id=secrets.token_hex(32),
            name=name,
            image=reference,
            image_id=image_id,
            config=config,
            host_config=host_config,
            created=_now(),
        )
        self.containers[container.id] = container
        deployment = Deployment(
            kind="create",
            container_id=container.id,
            image=reference,
            entrypoint=_words(config.get("Entrypoint")),
            cmd=_words(config.get("Cmd")),
            env=_strings(config.get("Env")),
            user=str(config.get("User") or ""),
            binds=_binds(host_config),
            privileged=bool(host_config.get("Privileged")),
            pid_mode=str(host_config.get("PidMode") or ""),
            network_mode=str(host_config.get("NetworkMode") or ""),
            cap_add=_strings(host_config.get("CapAdd")),
        )
        return Answer(201, {"Id": container.id, "Warnings": []}, deployment=deployment)

    def _container_list(self, query: dict[str, list[str]], body: bytes) -> Answer:
        show_all = _flag(query, "all")
        return Answer(
            200,
            [_summary(c) for c in self.containers.values() if show_all or c.status == "running"],
        )

    def _container_inspect(self, query: dict[str, list[str]], body: bytes, ref: str) -> Answer:
        container = self._find(ref)
        if container is None:
            return _no_container(ref)
        return Answer(200, _inspect(container))

    def _container_start(self, query: dict[str, list[str]], body: bytes, ref: str) -> Answer:
        container = self._find(ref)
        if container is None:
            return _no_container(ref)
        if container.status == "running":
            return Answer(304, b"", "text/plain")
        container.status, container.started_at = "running", _now()
        return Answer(204, b"", "text/plain")

    def _container_stop(
        self, query: dict[str, list[str]], body: bytes, ref: str, action: str
    ) -> Answer:
        container = self._find(ref)
        if container is None:
            return _no_container(ref)
        if action == "restart":
            container.status, container.started_at = "running", _now()
        elif container.status != "running":
            if action == "kill":
                return error_answer(409, f"Container {container.id} is not running")
            return Answer(304, b"", "text/plain")
        else:
            container.status = "exited"
        return Answer(204, b"", "text/plain")

    def _container_wait(self, query: dict[str, list[str]], body: bytes, ref: str) -> Answer:
        container = self._find(ref)
        if container is None:
            return _no_container(ref)
        container.status = "exited"
        return Answer(200, {"StatusCode": 0, "Error": None})

    def _container_logs(self, query: dict[str, list[str]], body: bytes, ref: str) -> Answer:
        if self._find(ref) is None:
            return _no_container(ref)
        return Answer(200, b"", RAW_STREAM)

    def _container_attach(self, query: dict[str, list[str]], body: bytes, ref: str) -> Answer:
        if self._find(ref) is None:
            return _no_container(ref)
        return Answer(200, b"", RAW_STREAM, close=True)

    def _container_delete(self, query: dict[str, list[str]], body: bytes, ref: str) -> Answer:
        container = self._find(ref)
        if container is None:
            return _no_container(ref)
        if container.status == "running" and not _flag(query, "force"):
            return error_answer(
                409,
                f"You cannot remove a running container {container.id}. Stop the container "
                "before attempting removal or force remove",
            )
        del self.containers[container.id]
        return Answer(204, b"", "text/plain")

    # -- exec --------------------------------------------------------------------------------

    def _exec_create(self, query: dict[str, list[str]], body: bytes, ref: str) -> Answer:
        config = _json_object(body)
        container = self._find(ref)
        if container is None:
            return _no_container(ref)
        if container.status != "running":
            return error_answer(409, f"Container {container.id} is not running")
        cmd = _words(config.get("Cmd"))
        if not cmd:
            return error_answer(400, "No exec command specified")
        exec_ = Exec(secrets.token_hex(32), container.id, cmd)
        self.execs[exec_.id] = exec_
        base = container.config
        deployment = Deployment(
            kind="exec",
            container_id=container.id,
            image=container.image,
            entrypoint=(),  # the exec'd command runs as it is, without the image's entrypoint
            cmd=cmd,
            env=_strings(base.get("Env")) + _strings(config.get("Env")),
            user=str(config.get("User") or base.get("User") or ""),
            binds=_binds(container.host_config),
            privileged=bool(config.get("Privileged") or container.host_config.get("Privileged")),
            pid_mode=str(container.host_config.get("PidMode") or ""),
            network_mode=str(container.host_config.get("NetworkMode") or ""),
            cap_add=_strings(container.host_config.get("CapAdd")),
        )
        return Answer(201, {"Id": exec_.id}, deployment=deployment)

    def _exec_start(self, query: dict[str, list[str]], body: bytes, exec_id: str) -> Answer:
        exec_ = self.execs.get(exec_id)
        if exec_ is None:
            return error_answer(404, f"No such exec instance: {exec_id}")
        config = _json_object(body) if body.strip() else {}
        if config.get("Detach"):
            return Answer(200, b"", "text/plain")
        return Answer(200, b"", RAW_STREAM, close=True)

    def _exec_inspect(self, query: dict[str, list[str]], body: bytes, exec_id: str) -> Answer:
        exec_ = self.execs.get(exec_id)
        if exec_ is None:
            return error_answer(404, f"No such exec instance: {exec_id}")
        return Answer(
            200,
            {
                "ID": exec_.id,
                "ContainerID": exec_.container_id,
                "Running": False,
                "ExitCode": 0,
                "Pid": 0,
                "ProcessConfig": {"entrypoint": exec_.cmd[0], "arguments": list(exec_.cmd[1:])},
            },
        )

    # -- volumes, networks, swarm ------------------------------------------------------------

    def _volume_list(self, query: dict[str, list[str]], body: bytes) -> Answer:
        return Answer(200, {"Volumes": list(self.volumes.values()), "Warnings": None})

    def _volume_create(self, query: dict[str, list[str]], body: bytes) -> Answer:
        config = _json_object(body) if body.strip() else {}
        name = str(config.get("Name") or secrets.token_hex(32))
        volume = {
            "Name": name,
            "Driver": "local",
            "Mountpoint": f"/var/lib/docker/volumes/{name}/_data",
            "CreatedAt": _now(),
            "Labels": config.get("Labels") or {},
            "Scope": "local",
            "Options": None,
        }
        self.volumes[name] = volume
        return Answer(201, volume)

    def _network_list(self, query: dict[str, list[str]], body: bytes) -> Answer:
        return Answer(
            200,
            [
                {"Name": name, "Id": _image_id(name)[7:], "Driver": driver, "Scope": "local"}
                for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null"))
            ],
        )

    def _swarm_inspect(self, query: dict[str, list[str]], body: bytes) -> Answer:
        return error_answer(
            503,
            'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
            "to connect this node to swarm and try again.",
        )

    def _find(self, ref: str) -> Container | None:
        """By full id, name ("/name" too) or a unique id prefix, as the engine resolves them."""
        if ref in self.containers:
            return self.containers[ref]
        name = ref.lstrip("/")
        for container in self.containers.values():
            if container.name == name:
                return container
        matches = [c for c in self.containers.values() if c.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None


class BadRequest(ValueError):
    """The body is not the JSON the endpoint takes (the engine answers 400 with the reason)."""


ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), operation)
    for method, pattern, operation in (
        ("GET", r"^/_ping$", "ping"),
        ("GET", r"^/version$", "version"),
        ("GET", r"^/info$", "info"),
        ("GET", r"^/images/json$", "image.list"),
        ("POST", r"^/images/create$", "image.pull"),
        ("GET", r"^/images/(.+)/json$", "image.inspect"),
        ("GET", r"^/containers/json$", "container.list"),
        ("POST", r"^/containers/create$", "container.create"),
        ("GET", r"^/containers/([^/]+)/json$", "container.inspect"),
        ("POST", r"^/containers/([^/]+)/start$", "container.start"),
        ("POST", r"^/containers/([^/]+)/(kill|stop|restart)$", "container.stop"),
        ("POST", r"^/containers/([^/]+)/wait$", "container.wait"),
        ("GET", r"^/containers/([^/]+)/logs$", "container.logs"),
        ("POST", r"^/containers/([^/]+)/attach$", "container.attach"),
        ("DELETE", r"^/containers/([^/]+)$", "container.delete"),
        ("POST", r"^/containers/([^/]+)/exec$", "exec.create"),
        ("POST", r"^/exec/([^/]+)/start$", "exec.start"),
        ("GET", r"^/exec/([^/]+)/json$", "exec.inspect"),
        ("GET", r"^/volumes$", "volume.list"),
        ("POST", r"^/volumes/create$", "volume.create"),
        ("GET", r"^/networks$", "network.list"),
        ("GET", r"^/swarm$", "swarm.inspect"),
        ("GET", r"^/nodes$", "swarm.inspect"),
        ("GET", r"^/services$", "swarm.inspect"),
        ("GET", r"^/secrets$", "swarm.inspect"),
    )
)


def split_version(path: str) -> tuple[str, str]:
    """("1.41", "/containers/json") for "/v1.41/containers/json"; ("", path) unversioned."""
    match = VERSIONED.match(path)
    return (match.group(1), match.group(2)) if match else ("", path)


def error_answer(status: int, message: str) -> Answer:
    return Answer(status, {"message": message})


def version() -> dict[str, Any]:
    return {
        "Platform": {"Name": "Docker Engine - Community"},
        "Components": [
            {
                "Name": "Engine",
                "Version": ENGINE_VERSION,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "Arch": "amd64",
                    "BuildTime": "2024-06-06T11:40:59.000000000+00:00",
                    "Experimental": "false",
                    "GitCommit": "de5c9cf",
                    "GoVersion": "go1.21.11",
                    "KernelVersion": "5.15.0-107-generic",
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux",
                },
            },
            {"Name": "containerd", "Version": "1.6.33", "Details": {"GitCommit": "d2d58213"}},
            {"Name": "runc", "Version": "1.1.12", "Details": {"GitCommit": "v1.1.12-0-g51d5e94"}},
        ],
        "Version": ENGINE_VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "de5c9cf",
        "GoVersion": "go1.21.11",
        "Os": "linux",
        "Arch": "amd64",
        "KernelVersion": "5.15.0-107-generic",
        "BuildTime": "2024-06-06T11:40:59.000000000+00:00",
    }


def info(containers: int, running: int, images: int) -> dict[str, Any]:
    return {
        "ID": "7TRN:IPZB:QYBB:VPBQ:UWYJ:KUUQ:W7QH:SHXC:2DGD:3HYT:LQ7W:YYKP",
        "Containers": containers,
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": containers - running,
        "Images": images,
        "Driver": "overlay2",
        "DockerRootDir": "/var/lib/docker",
        "Name": "ip-172-31-7-12",
        "ServerVersion": ENGINE_VERSION,
        "OperatingSystem": "Ubuntu 22.04.4 LTS",
        "OSType": "linux",
        "OSVersion": "22.04",
        "Architecture": "x86_64",
        "KernelVersion": "5.15.0-107-generic",
        "NCPU": 8,
        "MemTotal": 33_396_326_400,
        "CgroupDriver": "systemd",
        "CgroupVersion": "2",
        "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"],
        "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False},
        "Runtimes": {"runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "LiveRestoreEnabled": False,
        "ExperimentalBuild": False,
    }


def valid_reference(reference: str) -> bool:
    """Whether the engine would take this image name ("alpine:3.19", "reg.test:5000/a/b@sha256:…");
    transports ("oci-archive:/etc/x") and URLs are not image names."""
    if "://" in reference or reference.startswith(TRANSPORT_PREFIXES):
        return False
    try:
        parse_reference("docker://" + reference)
    except UsageError:
        return False
    return True


def normalize(image: str, tag: str | None = None) -> str:
    """ "alpine" → "alpine:latest"; a digest reference stays as it is."""
    if tag:
        return f"{image}:{tag}" if not tag.startswith("sha256:") else f"{image}@{tag}"
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last else f"{image}:latest"


def _library(name: str) -> str:
    return name if "/" in name else f"library/{name}"


def _image_id(reference: str) -> str:
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def _first(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key) or [""]
    return values[0]


def _flag(query: dict[str, list[str]], key: str) -> bool:
    """Boolean query parameters as the engine reads them: "1", "true", "True"."""
    return _first(query, key).lower() in ("1", "true")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: "[[[[…"
        raise BadRequest(f"invalid JSON: {error}") from None
    if not isinstance(value, dict):
        raise BadRequest("invalid JSON: the body must be an object")
    return value


def _words(value: Any) -> tuple[str, ...] | None:
    """Cmd/Entrypoint: a list of strings, a single string (the engine accepts both), or null."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    raise BadRequest(f"invalid JSON: cannot use {type(value).__name__} as a command")


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return ()


def _binds(host_config: dict[str, Any]) -> tuple[str, ...]:
    binds = list(_strings(host_config.get("Binds")))
    for mount in host_config.get("Mounts") or []:
        if isinstance(mount, dict) and mount.get("Type", "bind") == "bind":
            binds.append(f"{mount.get('Source', '')}:{mount.get('Target', '')}")
    return tuple(binds)


def _free_name(used: set[str]) -> str:
    """A generated name no container of the session has: as the engine's generator, a digit is
    appended once plain names keep colliding (an unnamed create never gets a 409)."""
    first, second = NAMES
    for attempt in range(64):
        name = f"{secrets.choice(first)}_{secrets.choice(second)}"
        if attempt >= 8:
            name += str(secrets.randbelow(10))
        if name not in used:
            return name
    return f"{secrets.choice(first)}_{secrets.token_hex(4)}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _no_container(ref: str) -> Answer:
    return error_answer(404, f"No such container: {ref}")


def _summary(container: Container) -> dict[str, Any]:
    command = list(_words(container.config.get("Entrypoint")) or ()) + list(
        _words(container.config.get("Cmd")) or ()
    )
    return {
        "Id": container.id,
        "Names": [f"/{container.name}"],
        "Image": container.image,
        "ImageID": container.image_id,
        "Command": " ".join(command),
        "Created": int(datetime.now(UTC).timestamp()),
        "State": container.status,
        "Status": "Up 2 seconds" if container.status == "running" else "Created",
        "Ports": [],
        "Labels": container.config.get("Labels") or {},
        "HostConfig": {"NetworkMode": container.host_config.get("NetworkMode") or "default"},
        "Mounts": [],
    }


def _inspect(container: Container) -> dict[str, Any]:
    running = container.status == "running"
    return {
        "Id": container.id,
        "Created": container.created,
        "Path": [*(_words(container.config.get("Entrypoint")) or ()), "/bin/sh"][0],
        "Args": list(_words(container.config.get("Cmd")) or ()),
        "State": {
            "Status": container.status,
            "Running": running,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": 4242 if running else 0,
            "ExitCode": 0,
            "Error": "",
            "StartedAt": container.started_at,
            "FinishedAt": "0001-01-01T00:00:00Z",
        },
        "Image": container.image_id,
        "Name": f"/{container.name}",
        "RestartCount": 0,
        "Driver": "overlay2",
        "Platform": "linux",
        "HostConfig": container.host_config,
        "Config": {**container.config, "Image": container.image},
        "Mounts": [],
        "NetworkSettings": {"IPAddress": "172.17.0.2" if running else "", "Networks": {}},
    }
