"""/dashboard: what a person sees, in-process over a real store and in a real headless Chromium
against the live service over HTTPS (screenshots kept under $DETONATE_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.store import Source

MINER = Finding(
    "stratum-login",
    "Stratum mining login",
    Category.COMMUNICATION,
    "T1496",
    Severity.CRITICAL,
    Confidence.HIGH,
    "runtime:rules",
    evidence=(Evidence("stratum login", destination="pool.test:3333"),),
)
HOSTILE = '<script>alert("x")</script>'
CHROMIUM = shutil.which("chromium")


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def populate(store: Any) -> dict[str, str]:
    """A malicious and a clean finished scan, a queued one, a tag history, two decisions."""
    ids = {}
    for name, n, verdict in (("miner", 1, Verdict.MALICIOUS), ("web", 2, Verdict.CLEAN)):
        scan, _ = store.request_scan(
            f"docker://registry.test/shop/{name}@{digest(n)}",
            digest=digest(n),
            platform="linux/amd64",
            source=Source.WEBHOOK,
        )
        findings = (MINER,) if verdict is Verdict.MALICIOUS else ()
        image = ImageInfo(
            f"docker://registry.test/shop/{name}@{digest(n)}", digest(n), "linux/amd64"
        )
        store.record_report(
            scan.id, Report(image, verdict, 95 if findings else 0, findings=findings)
        )
        ids[name] = scan.id
    queued, _ = store.request_scan(
        f"docker://registry.test/shop/new@{digest(3)}",
        digest=digest(3),
        platform="linux/amd64",
        source=Source.API,
    )
    ids["queued"] = queued.id
    store.observe_tag("registry.test/shop/app", "1", digest(2), Source.WEBHOOK)
    store.observe_tag("registry.test/shop/app", "1", digest(1), Source.ADMISSION)  # moved
    store.record_admission(
        image="registry.test/shop/app:1",
        allowed=False,
        digest=digest(1),
        verdict="malicious",
        policy="malicious",
        message=f"detonate: malicious {HOSTILE}",
        namespace="shop",
        kind="Deployment",
        name="shop",
        scan_id=ids["miner"],
    )
    store.record_admission(
        image="registry.test/shop/web:1",
        allowed=True,
        digest=digest(2),
        verdict="clean",
        policy="clean",
        namespace="shop",
        kind="Pod",
        name="web",
    )
    return ids


@pytest.fixture
def signed_in(make_client: Any, store: Any) -> Any:
    client = make_client()
    token = store.create_token("dashboard")
    answer = client.post(
        "/dashboard/login",
        content=f"token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    assert "httponly" in answer.headers["set-cookie"].lower()
    return client


def test_pages_need_a_token(make_client: Any, store: Any) -> None:
    client = make_client()
    for path in ("/dashboard", "/dashboard/images", "/dashboard/admissions", "/dashboard/scans/x"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    wrong = client.post(
        "/dashboard/login",
        content="token=nope",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert wrong.status_code == 401 and "not valid" in wrong.text


def test_scans_list_filters_and_refreshes_while_scans_run(signed_in: Any, store: Any) -> None:
    ids = populate(store)
    everything = signed_in.get("/dashboard").text
    assert all(f"/dashboard/scans/{i}" in everything for i in ids.values())
    assert 'http-equiv="refresh"' in everything  # one scan is still queued
    malicious = signed_in.get("/dashboard", params={"verdict": "malicious"}).text
    assert f"/dashboard/scans/{ids['miner']}" in malicious and ids["web"] not in malicious
    assert "stratum-login: Stratum mining login" in malicious
    by_image = signed_in.get("/dashboard", params={"image": "shop/web"}).text
    assert ids["web"] in by_image and ids["miner"] not in by_image
    assert (
        "No scans match"
        in signed_in.get("/dashboard", params={"hours": "0", "verdict": "error"}).text
    )


def test_one_scan_is_the_html_report_or_its_status(signed_in: Any, store: Any) -> None:
    ids = populate(store)
    report = signed_in.get(f"/dashboard/scans/{ids['miner']}").text
    assert "Stratum mining login" in report and "malicious" in report
    waiting = signed_in.get(f"/dashboard/scans/{ids['queued']}").text
    assert "queued" in waiting and 'http-equiv="refresh"' in waiting
    assert signed_in.get("/dashboard/scans/no-such-scan").status_code == 404


def test_images_show_the_tag_history_with_each_digests_verdict(signed_in: Any, store: Any) -> None:
    populate(store)
    page = signed_in.get("/dashboard/images", params={"repository": "registry.test/shop/app"}).text
    assert page.index(digest(1)) < page.index(digest(2))  # newest first: the tag moved to the miner
    assert 'class="verdict malicious"' in page and 'class="verdict clean"' in page
    assert "registry.test/shop/miner" in signed_in.get("/dashboard/images").text  # recently scanned


def test_admissions_are_listed_and_escaped(signed_in: Any, store: Any) -> None:
    populate(store)
    page = signed_in.get("/dashboard/admissions").text
    assert "Deployment/shop" in page and "denied" in page and "allowed" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page


def artifacts(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("DETONATE_ARTIFACTS") or tmp_path / "artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--ignore-certificate-errors",  # the live service's throwaway certificate
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        *extra,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian package `chromium` is not installed")
@pytest.mark.slow
def test_pages_in_headless_chromium(serve: Any, tmp_path: Path) -> None:
    live = serve()
    populate(live.store)
    profile = tmp_path / "profile"
    # Signing in is the one step done with a script: a headless browser cannot type. The form
    # posts the token once; the cookie it sets carries every page after it.
    login = tmp_path / "login.html"
    login.write_text(
        f'<form method="post" action="{live.base_url}/dashboard/login">'
        f'<input name="token" value="{live.token}"></form>'
        "<script>document.forms[0].submit()</script>"
    )
    first = chromium(login.as_uri(), profile, "--dump-dom")
    assert "Scans" in first.stdout and "stratum-login: Stratum mining login" in first.stdout, (
        first.stderr[-2000:]
    )
    out = artifacts(tmp_path)
    for name, path, expect in (
        ("dashboard-scans", "/dashboard", "registry.test/shop/miner"),
        ("dashboard-admissions", "/dashboard/admissions", "Deployment/shop"),
        ("dashboard-images", "/dashboard/images?repository=registry.test/shop/app", digest(1)),
    ):
        dom = chromium(f"{live.base_url}{path}", profile, "--dump-dom")
        assert expect in dom.stdout, (path, dom.stdout[:500])
        assert "/dashboard/login" not in dom.stdout or path == "/dashboard/login"
        shot = out / f"{name}.png"
        chromium(
            f"{live.base_url}{path}", profile, f"--screenshot={shot}", "--window-size=1280,800"
        )
        assert shot.exists() and shot.stat().st_size > 10_000
