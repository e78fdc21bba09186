import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, Report, RunSummary, StageError, Verdict
from detonate.model.runtime import ChangeKind, ContentType, FileChange, ProcessInfo
from detonate.report import html

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def runtime_report(**overrides) -> Report:
    """A detonated miner, with a hostile file name and excerpt."""
    fields = dict(
        image=ImageInfo(
            reference="docker://example.test/miner:1",
            digest="sha256:" + "a" * 64,
            platform="linux/amd64",
            layers=3,
            files=412,
            entrypoint=("/opt/x/run.sh",),
        ),
        verdict=Verdict.MALICIOUS,
        score=92,
        findings=(
            Finding(
                rule_id="stratum-login",
                title="Stratum mining login",
                category=Category.WEAPONIZATION,
                technique="T1496",
                severity=Severity.CRITICAL,
                confidence=Confidence.HIGH,
                source="runtime:rules",
                runtime_only=True,
                why="The process logged in to a mining pool.",
                evidence=(
                    Evidence(
                        "stratum login",
                        event_ids=(41,),
                        process=("sh -c /opt/x/run.sh", "/opt/x/xmrig -o pool.test:3333"),
                        destination="pool.test:3333 (192.0.2.10)",
                        excerpt='{"method":"login","params":{"login":"4FAKEWALLET"}}',
                    ),
                ),
            ),
            Finding(
                rule_id="hidden-executable",
                title="Hidden executable",
                category=Category.INITIAL_EXECUTION,
                technique="T1564.001",
                severity=Severity.MEDIUM,
                confidence=Confidence.MEDIUM,
                source="static:files",
                evidence=(
                    Evidence("hidden file", path=f"/tmp/.x/{HOSTILE}", layer_index=2),
                    Evidence("decoded stage", excerpt=f"echo {HOSTILE} | sh"),
                ),
            ),
            Finding(  # a technique ATT&CK v19 renumbered: was T1562.004
                rule_id="exec-firewall-disable",
                title="Firewall disabled or flushed",
                category=Category.WEAPONIZATION,
                technique="T1686",
                severity=Severity.HIGH,
                confidence=Confidence.HIGH,
                source="runtime:rules",
                runtime_only=True,
                evidence=(Evidence("exec", event_ids=(44,), process=("iptables -F",)),),
            ),
        ),
        iocs=Iocs(
            domains=("pool.test",),
            ips=("192.0.2.10",),
            wallets=("4FAKEWALLET",),
            pools=("stratum+tcp://pool.test:3333",),
        ),
        processes=(
            ProcessInfo(100, 0, "/bin/sh", ("sh", "-c", "/opt/x/run.sh"), start=0.01),
            ProcessInfo(101, 100, "/opt/x/xmrig", ("/opt/x/xmrig", "-o", "pool.test:3333"), 0.2),
            ProcessInfo(102, 100, "/bin/kill", ("kill", "-9", "1"), 0.3, exit_code=0),
        ),
        network={
            "dns": [{"ts": 0.15, "name": "pool.test", "type": "A", "answer": "192.0.2.10"}],
            "http": [],
            "stratum": [{"ts": 0.25, "method": "login", "login": "4FAKEWALLET"}],
            "docker_api": [{"ts": 0.5, "method": "POST", "path": f"/containers/{HOSTILE}"}],
            "connections": [{"ts": 0.21, "address": "192.0.2.10", "port": 3333}],
        },
        files=(
            FileChange(
                "/tmp/.x/payload",
                ChangeKind.CREATED,
                ContentType.ELF,
                sha256="b" * 64,
                executed=True,
            ),
        ),
        run=RunSummary(status="exited", duration_seconds=4.2, exit_code=0, events=120),
        generated_at="2026-01-01T00:00:00+00:00",
        tool_version="0.1.0",
        attack_version="19",
    )
    fields.update(overrides)
    return Report(**fields)


def static_report() -> Report:
    return runtime_report(
        findings=(runtime_report().findings[1],),
        verdict=Verdict.SUSPICIOUS,
        score=30,
        processes=(),
        network={},
        files=(),
        run=RunSummary(),
    )


class Elements(HTMLParser):
    """Collects start tags and their attributes, and the text by section id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: dict[str, str] = {}
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section" and attributes.get("id"):
            self._section = attributes["id"]
            self.sections[self._section] = ""

    def handle_data(self, data):
        if self._section:
            self.sections[self._section] += data


def parse(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    return parser


def test_hostile_strings_from_the_image_are_escaped():
    page = html.render(runtime_report())
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    elements = parse(page)
    assert not [t for t, _ in elements.tags if t == "script"]
    assert not [a for t, a in elements.tags if t == "img"]
    assert not [a for _, a in elements.tags if any(k.startswith("on") for k in a)]
    # The escaped text still reads as the original to a person.
    assert f"/tmp/.x/{HOSTILE}" in elements.sections["findings"]


def test_page_forbids_every_request_and_links_nowhere_outside():
    page = html.render(runtime_report())
    elements = parse(page)
    (csp,) = [
        a["content"]
        for t, a in elements.tags
        if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    for tag, attributes in elements.tags:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = attributes.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
    assert not [t for t, a in elements.tags if t == "link"]
    assert "@import" not in page
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)


def test_verdict_score_findings_and_attack_ids_are_shown():
    sections = parse(html.render(runtime_report())).sections
    page = html.render(runtime_report())
    assert 'id="verdict">malicious<' in page
    assert 'id="score">92<' in page
    findings = sections["findings"]
    assert "Weaponization" in findings and "Initial execution" in findings
    assert findings.index("Initial execution") < findings.index("Weaponization")
    assert "ATT&CK T1496" in findings and "ATT&CK T1564.001" in findings
    assert "runtime only: static scanning missed this" in findings
    assert "static" in findings
    assert "sh -c /opt/x/run.sh → /opt/x/xmrig -o pool.test:3333" in findings
    assert "pool.test:3333 (192.0.2.10)" in findings
    assert "stratum+tcp://pool.test:3333" in sections["iocs"]
    assert "linux/amd64" in sections["image"]


def test_runtime_sections_render_process_tree_timeline_network_and_files():
    page = html.render(runtime_report())
    sections = parse(page).sections
    # Children nest under their parent in the tree.
    tree = page[page.index('id="processes"') : page.index('id="timeline"')]
    assert tree.index("[100] sh -c /opt/x/run.sh") < tree.index("[101] /opt/x/xmrig")
    assert tree.count("<ul>") >= 1
    timeline = sections["timeline"]
    order = ["sh -c", "name=pool.test", "address=192.0.2.10", "login"]
    positions = [timeline.index(marker) for marker in order]
    assert positions == sorted(positions)
    network = sections["network"]
    for title in ("DNS", "HTTP", "TLS", "Stratum", "IRC", "Docker API", "Connections"):
        assert title in network
    assert "No HTTP traffic observed." in network
    assert "No TLS traffic observed." in network
    assert "/tmp/.x/payload" in sections["files"]
    assert "Not run" not in page


def test_static_only_scan_says_not_run_in_runtime_sections():
    sections = parse(html.render(static_report())).sections
    for section in ("processes", "timeline", "network", "files"):
        assert "Not run: static-only scan" in sections[section], section


def test_error_report_names_the_stage_and_hint():
    report = runtime_report(
        verdict=Verdict.ERROR,
        findings=(),
        error=StageError("acquire", "ImageNotFound", "no such image", "check the tag"),
    )
    sections = parse(html.render(report)).sections
    assert "acquire" in sections["error"] and "check the tag" in sections["error"]


def test_odd_runtime_records_render_without_failing():
    report = runtime_report(
        processes=({"pid": 1, "ppid": 2}, {"pid": 2, "ppid": 1}, {"pid": 3, "ppid": 3}),
        network={"dns": {"pool.test": {"answers": ["192.0.2.1"]}}, "pcap": "run.pcap", "irc": []},
        files=({"weird": None, "nested": {"a": [1, 2]}}, {"path": "x" * 5000}),
    )
    page = html.render(report)
    assert "[1]" in page and "[2]" in page and "[3]" in page
    assert "run.pcap" in page
    assert "…" in page  # the 5000-character cell was clipped


# --- headless Chromium ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian package `chromium` is not installed (apt-get install chromium)"
)


def run_chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
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
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def console_messages(stderr: str) -> list[str]:
    # Chromium logs page console output and CSP violations as:
    # [1:1:1127/212253.733524:INFO:CONSOLE:1] "Loading the image ... violates ...", source: ...
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def artifact_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("DETONATE_ARTIFACTS") or tmp_path / "artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@needs_chromium
@pytest.mark.slow
def test_console_check_catches_a_page_that_breaks_the_policy(tmp_path):
    # The control for the test below: a request and a script in the page must show up.
    bad = tmp_path / "bad.html"
    policy = "default-src 'none'; style-src 'unsafe-inline'"
    bad.write_text(
        f'<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<img src="http://192.0.2.1/x.png"><script>console.error("boom")</script>'
    )
    done = run_chromium(bad, tmp_path / "profile", "--dump-dom")
    messages = console_messages(done.stderr)
    assert any("192.0.2.1" in m and "Content Security Policy" in m for m in messages)
    assert any("inline script" in m for m in messages)


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("name,make", [("runtime", runtime_report), ("static", static_report)])
def test_report_renders_in_headless_chromium_without_console_errors(tmp_path, name, make):
    page = tmp_path / f"report-{name}.html"
    page.write_text(html.render(make()), encoding="utf-8")

    done = run_chromium(page, tmp_path / "profile-dom", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    assert 'id="verdict"' in done.stdout
    assert "Hidden executable" in done.stdout
    assert "<script>alert" not in done.stdout  # the hostile name stayed text in the live DOM

    screenshot = artifact_dir(tmp_path) / f"html-report-{name}.png"
    shot = run_chromium(
        page,
        tmp_path / "profile-shot",
        "--hide-scrollbars",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert console_messages(shot.stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000


def test_timeline_follows_the_event_stream_when_the_report_has_one():
    events = (
        {"kind": "process.exec", "seq": 0, "ts": 0.01, "pid": 100, "argv": ["sh"]},
        {"kind": "dns_queried", "seq": 1, "ts": 0.02, "pid": 101, "name": "pool.test"},
    )
    timeline = parse(html.render(runtime_report(events=events))).sections["timeline"]
    assert timeline.index("process.exec") < timeline.index("dns_queried")
    assert "name=pool.test" in timeline


def test_page_converts_only_the_run_records_it_shows_and_exactly_as_the_json_report():
    from detonate.report import json_report

    report = runtime_report()
    document = json_report.to_document(report)
    records = html.run_records(report)
    assert records == {name: document[name] for name in ("processes", "files", "network", "events")}
    assert "findings" not in records and "image" not in records  # rendered from the records
