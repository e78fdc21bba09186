"""Shared fixtures: a real `docker-registry` on 127.0.0.1 and the bundled samples, built.

    def test_pull(registry, built_samples):
        ref = registry.push(built_samples["benign-web"].oci_reference, "benign-web:1")
        # ref == "docker://127.0.0.1:PORT/benign-web:1"; scan it with tls_verify=False

Fixtures:
    registry            session-wide, anonymous; never tamper with its storage
    auth_registry       session-wide, htpasswd (bcrypt) auth: .username / .password
    make_registry       per test: make_registry(auth=False) → a private Registry to tamper with
                        (or with notifications=[endpoint, …]: one that calls webhooks)
    built_samples       session-wide: {"planted-static": BuiltSample, "benign-web": …}
    postgres_server     session-wide: a real PostgreSQL (tests/postgres.py); .new_database()
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from detonate.factory import BuiltSample, build_all
from postgres import postgres_server  # noqa: F401 (a fixture: a real PostgreSQL server)

pytest_plugins = ["no_skips"]  # DETONATE_NO_SKIPS=1 (CI): a skipped test fails

# A suite started as a background job of a non-interactive shell (`bash .ci/run &`) inherits
# SIGINT ignored, and so would every `detonate` the tests start: the Ctrl-C tests then wait
# out their timeouts (seen once). A handler here is reset to the default in each exec'd child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO_ROOT = Path(__file__).resolve().parent.parent

SAMPLES_DIR = REPO_ROOT / "samples"


@dataclass
class Registry:
    """A running `docker-registry` (Debian's distribution 2.8) over plain HTTP."""

    host: str  # "127.0.0.1:PORT"
    storage: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    username: str = ""
    password: str = ""

    def reference(self, repo_tag: str) -> str:
        """ "demo:1" or "demo@sha256:…" → "docker://127.0.0.1:PORT/demo:1"."""
        return f"docker://{self.host}/{repo_tag}"

    def push(self, source: str, repo_tag: str, all_platforms: bool = False) -> str:
        """Copy a skopeo source ("oci:DIR:TAG", "oci-archive:FILE") to repo_tag here; returns
        the docker:// reference. Images keep their digests (OCI manifests, no conversion)."""
        dest = self.reference(repo_tag)
        command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests"]
        if self.username:
            command.append(f"--dest-creds={self.username}:{self.password}")
        if all_platforms:
            command.append("--all")
        done = subprocess.run([*command, source, dest], capture_output=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"skopeo copy to {dest} failed: {done.stderr.decode()[-2000:]}")
        return dest

    def blob_data_path(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (tamper here to make it serve wrong ones)."""
        hexdigest = digest.partition(":")[2]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_htpasswd(path: Path, username: str, password: str) -> None:
    # bcrypt is the only hash distribution's htpasswd backend accepts ("user:$2b$…").
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(f"{username}:{hashed}\n")


def start_registry(
    workdir: Path,
    auth: bool = False,
    notifications: list[dict[str, object]] | None = None,
    env: dict[str, str] | None = None,
) -> Registry:
    """`notifications`: distribution's notifications.endpoints entries (its webhooks); `env`
    is added to the registry's environment (SSL_CERT_FILE: a CA its webhook client trusts)."""
    if shutil.which("docker-registry") is None or shutil.which("skopeo") is None:
        pytest.fail(
            "docker-registry and skopeo are needed (apt-get install docker-registry skopeo)"
        )
    storage = workdir / "storage"
    storage.mkdir(parents=True)
    port = _free_port()
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "detonate-test-only"},
    }
    if notifications:
        config["notifications"] = {"endpoints": notifications}
    username = password = ""
    if auth:
        username, password = "detonate", "test-only-password"
        _write_htpasswd(workdir / "htpasswd", username, password)
        config["auth"] = {"htpasswd": {"realm": "detonate-test", "path": str(workdir / "htpasswd")}}
    # JSON is YAML: the registry reads this file as its config.yml.
    (workdir / "config.yml").write_text(json.dumps(config))
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(workdir / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    registry = Registry(f"127.0.0.1:{port}", storage, process, username, password)
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"http://{registry.host}/v2/", timeout=1).close()
            return registry
        except urllib.error.HTTPError as error:
            if error.code == 401:  # the auth variant answers, and asks for credentials
                return registry
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_registry(registry)
            log_text = (workdir / "registry.log").read_text(errors="replace")
            pytest.fail(f"docker-registry did not start:\n{log_text}")
        time.sleep(0.05)


def stop_registry(registry: Registry) -> None:
    registry.process.terminate()
    try:
        registry.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        registry.process.kill()
        registry.process.wait()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = start_registry(tmp_path_factory.mktemp("registry"))
    yield server
    stop_registry(server)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = start_registry(tmp_path_factory.mktemp("auth-registry"), auth=True)
    yield server
    stop_registry(server)


@pytest.fixture
def make_registry(tmp_path: Path) -> Iterator[Callable[..., Registry]]:
    started: list[Registry] = []

    def make(auth: bool = False, **options: Any) -> Registry:
        """options: start_registry's `notifications` and `env`."""
        server = start_registry(tmp_path / f"registry-{len(started)}", auth=auth, **options)
        started.append(server)
        return server

    yield make
    for server in started:
        stop_registry(server)


@pytest.fixture(scope="session")
def built_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltSample]:
    """Every recipe under samples/, built by the factory into a session temp dir."""
    out = tmp_path_factory.mktemp("samples")
    return {sample.name: sample for sample in build_all(SAMPLES_DIR, out, force=True)}
