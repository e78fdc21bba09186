"""The service's commands as a user runs them: `detonate token create`, `detonate serve` (a
real process, HTTPS), and `detonate image --store URL`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from detonate.cli.main import main
from detonate.service.malloc_arenas import thread_arenas
from detonate.store import ScanStatus, Source, Store
from service.live import free_port, make_tls_pair


def test_token_create_prints_a_token_the_store_accepts(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'detonate.db'}"
    assert main(["token", "create", "ci", "--db", url]) == 0
    token = capsys.readouterr().out.strip()
    store = Store.open(url)
    try:
        assert store.check_token(token) and store.token_names() == ["ci"]
    finally:
        store.close()
    assert main(["token", "create", "ci", "--db", url]) == 2  # names are unique
    assert "exists already" in capsys.readouterr().err


def test_image_with_store_records_the_cli_scan(tmp_path, built_samples) -> None:
    url = f"sqlite:///{tmp_path / 'detonate.db'}"
    sample = built_samples["planted-static"]
    code = main(
        [
            *("image", sample.archive_reference, "--static-only", "--no-progress"),
            *("--format", "json", "--output", str(tmp_path / "r.json")),
            *("--cache-dir", str(tmp_path / "cache"), "--store", url),
        ]
    )
    assert code == 1  # malicious
    store = Store.open(url)
    try:
        [record] = store.list_scans()
        assert (record.source, record.status, record.verdict) == (
            Source.CLI,
            ScanStatus.DONE,
            "malicious",
        )
        verdict = store.verdict_for(record.digest)
        assert verdict is not None and verdict.scan_id == record.id
    finally:
        store.close()


def test_image_without_store_writes_no_database(tmp_path, built_samples) -> None:
    sample = built_samples["benign-web"]
    cache = tmp_path / "cache"
    code = main(
        [
            *("image", sample.archive_reference, "--static-only", "--no-progress"),
            *("--format", "json", "--output", str(tmp_path / "r.json"), "--cache-dir", str(cache)),
        ]
    )
    assert code == 0
    assert not list(tmp_path.rglob("*.db"))


@pytest.mark.slow
def test_serve_runs_over_https_with_a_token_from_the_cli(tmp_path) -> None:
    tls = make_tls_pair(tmp_path / "tls")
    cache, port = tmp_path / "cache", free_port()
    assert main(["token", "create", "me", "--cache-dir", str(cache)]) == 0
    store = Store.open(f"sqlite:///{cache / 'detonate.db'}")
    token = store.create_token("second")
    store.close()
    command = [sys.executable, "-m", "detonate", "serve", "--port", str(port)]
    command += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key), "--cache-dir", str(cache)]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    try:
        base = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/healthz", verify=tls.client_context(), timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode() if server.stdout else ""
                    raise AssertionError(output) from None
                time.sleep(0.2)
        with httpx.Client(base_url=base, verify=tls.client_context()) as client:
            assert client.get("/api/v1/scans").status_code == 401
            answer = client.get("/api/v1/scans", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200 and answer.json() == {"scans": []}
        # Its threads (uvicorn's, the scan workers') share one capped malloc arena.
        assert len(thread_arenas(server.pid)) <= 1
    finally:
        server.terminate()
        server.wait(30)
    assert server.returncode in (0, -15)


def test_serve_refuses_half_a_tls_pair(tmp_path, capsys) -> None:
    code = main(["serve", "--tls-cert", str(tmp_path / "c.pem"), "--cache-dir", str(tmp_path)])
    assert code == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err


def test_serve_refuses_an_unreadable_certificate(tmp_path: Path, capsys) -> None:
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    code = main(
        [
            *("serve", "--tls-cert", str(tmp_path / "c.pem"), "--tls-key"),
            *(str(tmp_path / "k.pem"), "--cache-dir", str(tmp_path)),
        ]
    )
    assert code == 2
    assert "cannot use" in capsys.readouterr().err


def test_top_level_help_describes_detonate_in_whole_sentences(capsys) -> None:
    """`detonate --help` once showed the module docstring's first line, cut mid-sentence
    ("`detonate serve` runs the")."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    description = out.split("positional arguments:")[0].split("\n\n", 1)[1]
    text = " ".join(description.split())
    assert text.startswith("Dynamic threat analysis for container images")
    assert text.endswith(".")
