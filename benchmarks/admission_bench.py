"""Admission and webhook latency of `detonate serve`, and push-to-verdict time. Prints medians,
percentiles and ratios; asserts nothing. Needs root (the push-to-verdict part runs real scans).

    python benchmarks/admission_bench.py [--requests 5000] [--pushes 3]

The service is the real `detonate serve` process (uvicorn, TLS with a throwaway CA, SQLite
store) on 127.0.0.1; the client is another process, one keep-alive HTTPS connection.

1. AdmissionReview answers from a cached verdict: a Deployment whose three images (two tags,
   one digest) have stored verdicts, tags already resolved once. Peer in the same run: GET
   /healthz over the same connection (the floor of TLS + HTTP + the framework). Goal: p99 ≤
   50 ms; Kubernetes peers budget 3–5 s (the webhook's timeoutSeconds here is 3).
2. `skopeo copy` of a bundled sample to a docker-registry that notifies the service → the
   verdict readable in the store, for `--pushes` samples.
3. /hooks/distribution acknowledgement of a push notification with a digest: the same push
   repeated (a flood: the store answers with the existing scan), then distinct digests (one
   scan created each; they name a registry that does not exist, so the worker fails each fast
   and its churn is part of what the service does meanwhile).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "service"))  # the test CA helper
sys.path.insert(0, str(REPO / "tests"))

from tls_files import write_tls_files  # noqa: E402

from detonate.factory import build_sample  # noqa: E402
from detonate.model.findings import Category, Confidence, Finding, Severity  # noqa: E402
from detonate.model.report import ImageInfo, Report, Verdict  # noqa: E402
from detonate.store import Source, Store  # noqa: E402

SECRET = "bench-only-secret"
SAMPLES = REPO / "samples"
PUSH_SAMPLES = ("planted-static", "scenarios/b01-web-healthcheck", "scenarios/t01-hidden-miner")

CLIENT = r"""
import http.client, json, ssl, statistics, sys, time
port, ca, n, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = sys.stdin.buffer.read()
context = ssl.create_default_context(cafile=ca)
connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
def once(method, path, payload, headers):
    t = time.perf_counter()
    connection.request(method, path, body=payload, headers=headers)
    answer = connection.getresponse()
    data = answer.read()
    return time.perf_counter() - t, answer.status, data
samples, statuses = [], {}
for i in range(n):
    if mode == "admission":
        json_type = {"Content-Type": "application/json"}
        seconds, status, _ = once("POST", "/k8s/validate", body, json_type)
    elif mode == "healthz":
        seconds, status, _ = once("GET", "/healthz", None, {})
    else:  # webhook: the same push again (a flood), or a distinct digest each time
        event = json.loads(body)
        if mode == "webhook":
            event["events"][0]["target"]["digest"] = "sha256:%064x" % (i + 1)
        seconds, status, _ = once("POST", "/hooks/distribution", json.dumps(event).encode(),
            {"Content-Type": "application/vnd.docker.distribution.events.v1+json",
             "Authorization": "Bearer " + sys.argv[5]})
    samples.append(seconds)
    statuses[status] = statuses.get(status, 0) + 1
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
print(json.dumps({"p50": pick(0.5), "p99": pick(0.99), "max": samples[-1], "statuses": statuses}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, context: ssl.SSLContext | None = None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1, context=context).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start_registry(work: Path, hook_url: str, ca: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(work / "registry")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "bench-only"},
        "notifications": {
            "endpoints": [
                {
                    "name": "detonate",
                    "url": hook_url,
                    "headers": {"Authorization": [f"Bearer {SECRET}"]},
                    "timeout": "2s",
                    "threshold": 5,
                    "backoff": "1s",
                }
            ]
        },
    }
    (work / "registry.yml").write_text(json.dumps(config))
    process = subprocess.Popen(
        ["docker-registry", "serve", str(work / "registry.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "SSL_CERT_FILE": str(ca)},
    )
    wait_http(f"http://127.0.0.1:{port}/v2/")
    return process, f"127.0.0.1:{port}"


def stored_verdict(store: Store, digest: str, verdict: Verdict, rule: str = "") -> None:
    scan, _ = store.request_scan(
        f"docker://bench.test/x@{digest}", digest=digest, platform="linux/amd64", source=Source.CLI
    )
    findings = ()
    if rule:
        findings = (
            Finding(
                rule,
                "Stratum mining login",
                Category.COMMUNICATION,
                "T1496",
                Severity.CRITICAL,
                Confidence.HIGH,
                "runtime:rules",
            ),
        )
    image = ImageInfo("docker://bench.test/x", digest, "linux/amd64")
    store.record_report(scan.id, Report(image, verdict, 90 if rule else 0, findings=findings))


def run_client(port: int, ca: Path, n: int, mode: str, body: bytes) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(port), str(ca), str(n), mode, SECRET],
        input=body,
        capture_output=True,
        check=True,
        timeout=900,
    )
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--pushes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="detonate-admission-bench-") as tmp:
        work = Path(tmp)
        ca, cert, key = write_tls_files(work / "tls")
        port = free_port()
        db = f"sqlite:///{work / 'store.db'}"
        hook_url = f"https://127.0.0.1:{port}/hooks/distribution"
        registry, host = start_registry(work, hook_url, ca)
        service = None
        try:
            built = {
                name: build_sample(SAMPLES / name, work / "built" / name.replace("/", "-"))
                for name in PUSH_SAMPLES[: args.pushes]
            }
            web = build_sample(SAMPLES / "benign-web", work / "built" / "admission-web")
            subprocess.run(
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    "--dest-tls-verify=false",
                    "--preserve-digests",
                    f"oci:{web.layout}:{web.tag}",
                    f"docker://{host}/shop/web:1",
                ],
                check=True,
                timeout=120,
            )
            store = Store.open(db)
            stored_verdict(store, web.digest, Verdict.CLEAN)
            pinned = "sha256:" + hashlib.sha256(b"bench sidecar").hexdigest()
            stored_verdict(store, pinned, Verdict.CLEAN)
            store.close()
            service = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "detonate",
                    "serve",
                    "--port",
                    str(port),
                    "--tls-cert",
                    str(cert),
                    "--tls-key",
                    str(key),
                    "--db",
                    db,
                    "--cache-dir",
                    str(work / "cache"),
                    "--concurrency",
                    "1",
                    "--unsafe-skip-tls-verify",
                    "--timeout",
                    "30",
                ],
                env={**os.environ, "DETONATE_HOOK_SECRET_DISTRIBUTION": SECRET},
                stdout=subprocess.DEVNULL,
                stderr=(work / "serve.log").open("wb"),
            )
            wait_http(
                f"https://127.0.0.1:{port}/healthz", ssl.create_default_context(cafile=str(ca))
            )

            review = json.loads((REPO / "tests/admission/reviews/deployment.json").read_text())
            spec = review["request"]["object"]["spec"]["template"]["spec"]
            spec["containers"][0]["image"] = f"{host}/shop/web:1"
            spec["containers"][1]["image"] = f"{host}/shop/sidecar@{pinned}"
            spec["initContainers"][0]["image"] = f"{host}/shop/web:1"
            body = json.dumps(review).encode()
            run_client(port, ca, 20, "admission", body)  # warm: the tag is resolved once
            admission = run_client(port, ca, args.requests, "admission", body)
            floor = run_client(port, ca, args.requests, "healthz", b"")
            push_seconds = []
            for name, sample in built.items():
                started = time.monotonic()
                subprocess.run(
                    [
                        "skopeo",
                        "copy",
                        "--quiet",
                        "--dest-tls-verify=false",
                        "--preserve-digests",
                        f"oci:{sample.layout}:{sample.tag}",
                        f"docker://{host}/push/{sample.name}:1",
                    ],
                    check=True,
                    timeout=120,
                )
                store = Store.open(db)
                verdict = None
                while verdict is None and time.monotonic() - started < 300:
                    verdict = store.verdict_for(sample.digest)
                    time.sleep(0.1)
                store.close()
                seconds = time.monotonic() - started
                push_seconds.append(seconds)
                print(
                    f"  push {name}: verdict {verdict.verdict if verdict else 'NONE'} "
                    f"after {seconds:.1f} s"
                )
            # Last: these queue scans of digests no registry has (each fails fast in a worker).
            event = json.loads(
                (REPO / "tests/service/payloads/distribution-manifest-push.json").read_text()
            )
            event["events"][0]["request"]["host"] = "127.0.0.1:1"
            hook_event = json.dumps(event).encode()
            hooks = min(args.requests, 2000)
            duplicate = run_client(port, ca, hooks, "webhook-same", hook_event)
            webhook = run_client(port, ca, hooks, "webhook", hook_event)
        finally:
            if service is not None:
                service.terminate()
                service.wait(30)
            registry.terminate()
            registry.wait(10)

    ms = lambda seconds: f"{1000 * float(seconds):.1f} ms"  # noqa: E731
    print(
        f"\nadmission, cached verdicts, {args.requests} sequential HTTPS requests: "
        f"p50 {ms(admission['p50'])}, p99 {ms(admission['p99'])}, max {ms(admission['max'])}, "
        f"statuses {admission['statuses']}"
    )
    print(
        f"/healthz over the same kind of connection (the floor): p50 {ms(floor['p50'])}, "
        f"p99 {ms(floor['p99'])}"
    )
    print(
        f"ratio admission/healthz: p50 {float(admission['p50']) / float(floor['p50']):.2f}x, "
        f"p99 {float(admission['p99']) / float(floor['p99']):.2f}x; "
        f"p99 against the 50 ms goal: {float(admission['p99']) / 0.05:.2f}x; "
        f"against a 3 s webhook budget: {float(admission['p99']) / 3:.4f}x"
    )
    print(
        f"webhook acknowledgement, one push repeated (a flood: one scan): "
        f"p50 {ms(duplicate['p50'])}, p99 {ms(duplicate['p99'])}, statuses {duplicate['statuses']}"
    )
    print(
        f"webhook acknowledgement, distinct digests (a scan created each): "
        f"p50 {ms(webhook['p50'])}, p99 {ms(webhook['p99'])}, statuses {webhook['statuses']}"
    )
    if push_seconds:
        print(
            f"skopeo copy → verdict in the store: median {statistics.median(push_seconds):.1f} s "
            f"over {len(push_seconds)} samples ({', '.join(f'{s:.1f}' for s in push_seconds)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
