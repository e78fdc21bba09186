"""The soak's serve variant (`benchmarks/soak.py --serve`): scans go to a long-running
`detonate serve` (its own process, HTTPS with a bearer token, SQLite store, --concurrency as the
soak's --parallel) over its API, and that process is the one watched.

The service answers a repeated digest from its store (one scan per cache key), so every scan
needs an image of its own: the factory builds one per scan (the busybox activity of soak.py plus
a file holding the scan's number; one shared base layer) and `skopeo copy` pushes them all to a
Debian `docker-registry` on 127.0.0.1 before the soak starts. Uses the tests' registry and TLS
helpers (tests/conftest.py, tests/service/live.py), as benchmarks/service_bench.py does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from soak import ACTIVE, QUIET, MiB, Target  # noqa: E402

from conftest import Registry, start_registry, stop_registry  # noqa: E402
from detonate.factory import (  # noqa: E402
    FileSpec,
    ImageSpec,
    LayerSpec,
    busybox_layer,
    write_oci_archive,
)
from detonate.store import Store  # noqa: E402
from service.live import TlsPair, free_port, make_tls_pair  # noqa: E402

FINISHED = ("done", "failed", "poisoned")


def push_images(work: Path, registry: Registry, count: int) -> list[str]:
    """`count` distinct images in the registry, pushed 4 at a time; their references."""
    base = busybox_layer()

    def one(number: int) -> str:
        script = ACTIVE if number % 2 == 0 else QUIET
        files = (
            FileSpec("/app/run.sh", f"#!/bin/sh\n{script}\n".encode(), 0o755),
            FileSpec("/app/scan-number", f"{number}\n".encode()),
        )
        spec = ImageSpec(
            "soak", (base, LayerSpec(files)), tag=str(number), entrypoint=("/bin/sh", "/app/run.sh")
        )
        archive = work / f"soak-{number}.oci.tar"
        write_oci_archive(spec, archive)
        reference = registry.push(f"oci-archive:{archive}", f"soak/img:{number}")
        archive.unlink()
        return reference.removeprefix("docker://")

    # The first alone: the images share their base layer, and docker-registry can fail one of
    # two pushes uploading the same blob at once (a CI run's skopeo exited 1); pushed once,
    # the others find it there and skip it.
    first = [one(0)] if count else []
    with ThreadPoolExecutor(4) as pool:
        return first + list(pool.map(one, range(1, count)))


class Served:
    """Scans through the API of a `detonate serve` started here."""

    def __init__(
        self, work: Path, refs: list[str], concurrency: int, env: dict[str, str] | None = None
    ) -> None:
        self.refs, self.cache_dir = refs, work / "cache"
        self.db = work / "store.db"
        self.tls: TlsPair = make_tls_pair(work / "tls")
        store = Store.open(f"sqlite:///{self.db}")
        token = store.create_token("soak")
        store.close()
        port = free_port()
        command = [sys.executable, "-m", "detonate", "serve", "--port", str(port)]
        command += ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]
        command += ["--db", f"sqlite:///{self.db}", "--cache-dir", str(self.cache_dir)]
        command += ["--concurrency", str(concurrency), "--timeout", "30"]
        command += ["--unsafe-skip-tls-verify"]  # the registry speaks plain HTTP on 127.0.0.1
        self.log = (work / "serve.log").open("wb")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.pid = self.process.pid
        self.base = f"https://127.0.0.1:{port}"
        self.http = httpx.Client(
            base_url=self.base,
            verify=self.tls.client_context(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            limits=httpx.Limits(max_connections=64),
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if self.http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise SystemExit(f"detonate serve did not start: see {work / 'serve.log'}")
            time.sleep(0.2)

    def scan(self, index: int, profile: str = "full") -> str | None:
        request = {"reference": self.refs[index], "profile": profile}
        answer = self.http.post("/api/v1/scans", json=request)
        if answer.status_code != 202:
            return f"POST answered {answer.status_code}: {answer.text[:200]}"
        scan_id = answer.json()["id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            record = self.http.get(f"/api/v1/scans/{scan_id}").json()
            if record["status"] in FINISHED:
                break
            time.sleep(0.2)
        else:
            return f"{scan_id} not finished after 300 s"
        if record["status"] != "done" or record.get("verdict") == "error":
            return f"{scan_id}: {record['status']} {record.get('verdict')} {record.get('reason')}"
        report = self.http.get(f"/api/v1/scans/{scan_id}/report", params={"format": "json"})
        if profile == "full" and not report.json().get("run"):
            return f"{scan_id}: no sandbox run"
        return None

    def shown(self) -> dict[str, float]:
        files = [self.db, self.db.with_name(self.db.name + "-wal")]
        return {"store_mib": sum(f.stat().st_size for f in files if f.exists()) / MiB}

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


Soak = Callable[[Target, argparse.Namespace], tuple[list[str], list[str]]]


def served(work: Path, args: argparse.Namespace, soak: Soak) -> tuple[list[str], list[str]]:
    total = args.scans + args.parallel * args.rounds
    registry = start_registry(work / "registry")
    try:
        started = time.monotonic()
        refs = push_images(work, registry, total)
        print(f"{total} images pushed in {time.monotonic() - started:.0f} s", flush=True)
        service = Served(work, refs, args.parallel)
        print(f"detonate serve: pid {service.pid}, {service.base}", flush=True)
        try:
            return soak(service, args)
        finally:
            service.close()
    finally:
        stop_registry(registry)
