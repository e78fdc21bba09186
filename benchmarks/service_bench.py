"""Service benchmarks: prints medians and ratios, asserts nothing. Loads only 127.0.0.1.

    python benchmarks/service_bench.py [--lookups 2000] [--scans 200]

1. Verdict lookups, `GET /api/v1/images/{digest}/verdict` over HTTPS to `detonate serve` (its
   own process; one keep-alive connection, then 8 at once), against its peer: the same
   `Store.verdict_for` called in-process — the ratio is what HTTP, TLS, auth and JSON add to
   one indexed query; `/healthz` on the same connection is the floor of HTTP + TLS alone.
2. Store size per scan: bytes the database grows by per stored scan (report document,
   findings, IOC links, indexes), against the JSON report's own size; SQLite and PostgreSQL
   (a throwaway cluster from Debian's binaries, as the tests start it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from detonate.factory import build_sample  # noqa: E402
from detonate.model.options import ScanOptions  # noqa: E402
from detonate.model.report import Report  # noqa: E402
from detonate.pipeline import scan  # noqa: E402
from detonate.report import json_report  # noqa: E402
from detonate.store import Source, Store  # noqa: E402
from postgres import start_postgres, stop_postgres  # noqa: E402
from service.live import free_port, make_tls_pair  # noqa: E402


def sample_reports(work: Path) -> list[Report]:
    built = [
        build_sample(REPO / "samples" / n, work / "built") for n in ("planted-static", "benign-web")
    ]
    options = ScanOptions(cache_dir=work / "cache", static_only=True)
    return [scan(b.archive_reference, options) for b in built]


def fill(store: Store, reports: list[Report], count: int) -> tuple[list[str], int]:
    """`count` done scans with distinct digests; their digests and the JSON bytes stored."""
    digests, json_bytes = [], 0
    for n in range(count):
        report = reports[n % len(reports)]
        digest = f"sha256:{n:064x}"
        record, _ = store.request_scan(
            f"docker://registry.test/bench/{n}:1",
            digest=digest,
            platform="linux/amd64",
            source=Source.API,
        )
        store.mark_running(record.id)
        store.record_report(record.id, replace(report, image=replace(report.image, digest=digest)))
        digests.append(digest)
        json_bytes += len(json_report.dumps(report).encode())
    return digests, json_bytes


def database_bytes(store: Store, path: Path | None) -> int:
    if store.dialect == "sqlite":
        assert path is not None
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with store.engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_database_size(current_database())")))


def store_size(label: str, url: str, path: Path | None, reports: list[Report], scans: int) -> None:
    store = Store.open(url)
    empty = database_bytes(store, path)
    started = time.perf_counter()
    _, json_bytes = fill(store, reports, scans)
    took = time.perf_counter() - started
    grown = database_bytes(store, path) - empty
    store.close()
    print(
        f"  {label:<10} {grown / scans / 1024:7.1f} KiB per scan stored, JSON report "
        f"{json_bytes / scans / 1024:6.1f} KiB: ratio {grown / json_bytes:4.2f}; "
        f"{scans / took:6.1f} reports stored/s"
    )


def lookups(work: Path, count: int) -> None:
    tls = make_tls_pair(work / "tls")
    cache, port = work / "service", free_port()
    store = Store.open(f"sqlite:///{cache / 'detonate.db'}")
    digests, _ = fill(store, sample_reports(work), 200)
    token = store.create_token("bench")
    # The server in its own process, as `detonate serve` runs: not sharing our interpreter.
    command = [sys.executable, "-m", "detonate", "serve", "--port", str(port), "--concurrency"]
    command += ["1", "--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    server = subprocess.Popen(
        [*command, "--cache-dir", str(cache)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"https://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}

    def client() -> httpx.Client:
        return httpx.Client(base_url=base, verify=tls.client_context(), headers=headers)

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(base + "/healthz", verify=tls.client_context(), timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("detonate serve did not start") from None
                time.sleep(0.2)
        direct = []
        for n in range(count):
            t = time.perf_counter()
            assert store.verdict_for(digests[n % len(digests)]) is not None
            direct.append(time.perf_counter() - t)
        api, floor = [], []
        with client() as http:
            for _ in range(count // 4):  # the same connection's floor: no auth, no store
                t = time.perf_counter()
                http.get("/healthz")
                floor.append(time.perf_counter() - t)
            for n in range(count):
                t = time.perf_counter()
                answer = http.get(f"/api/v1/images/{digests[n % len(digests)]}/verdict")
                api.append(time.perf_counter() - t)
                assert answer.status_code == 200, answer.text

        def burst(offset: int) -> int:
            with client() as http:
                for n in range(count // 8):
                    http.get(f"/api/v1/images/{digests[(offset + n) % len(digests)]}/verdict")
            return count // 8

        t = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            done = sum(pool.map(burst, range(8)))
        parallel = done / (time.perf_counter() - t)
    finally:
        server.terminate()
        server.wait(30)
        store.close()
    d50, a50, f50 = statistics.median(direct), statistics.median(api), statistics.median(floor)
    a99 = statistics.quantiles(api, n=100)[98]
    print(f"  in-process Store.verdict_for     median {d50 * 1e3:6.2f} ms ({1 / d50:7.0f}/s)")
    print(
        f"  HTTPS API, 1 connection          median {a50 * 1e3:6.2f} ms, p99 {a99 * 1e3:6.2f} ms "
        f"({1 / a50:5.0f}/s): ratio {a50 / d50:4.1f}x the direct lookup"
    )
    print(f"  HTTPS /healthz, 1 connection     median {f50 * 1e3:6.2f} ms (HTTP + TLS floor)")
    print(f"  HTTPS API, 8 connections         {parallel:5.0f} lookups/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--scans", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="detonate-service-bench-") as tmp:
        work = Path(tmp)
        print("load average before:", " ".join(f"{x:.1f}" for x in os.getloadavg()))
        print(f"1. verdict lookups ({args.lookups} each, 200 scans stored, SQLite)")
        lookups(work, args.lookups)
        print(f"2. store size per scan ({args.scans} static reports of the bundled samples)")
        reports = sample_reports(work)
        store_size("SQLite", f"sqlite:///{work / 'size.db'}", work / "size.db", reports, args.scans)
        server = start_postgres()
        try:
            store_size("PostgreSQL", server.new_database(), None, reports, args.scans)
        finally:
            stop_postgres(server)


if __name__ == "__main__":
    main()
