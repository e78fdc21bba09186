"""A report whose every image-derived string comes from the fuzz input: file names, argv,
excerpts, IOCs, network records, the error text. Shared by the three renderer targets."""

from __future__ import annotations

from collections.abc import Iterator

from fuzz_harness import split, text

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, Report, RunSummary, StageError, Verdict
from detonate.model.runtime import ChangeKind, ContentType, FileChange, ProcessInfo

FIELDS = 12
# Appended to every hostile string: if it reaches HTML unescaped, "<fz" shows it.
MARK = "<fz\"'&>"


def seeds() -> Iterator[bytes]:
    yield b"\x00\xff\x00".join(
        [
            b"docker://example.test/miner:1",
            b"/tmp/.x/<script>alert(1)</script>",
            b'{"method":"login","params":{"login":"4FAKEWALLET"}}',
            b"sh -c /opt/x/run.sh",
            b"pool.test:3333 (192.0.2.10)",
            b"\x1b]0;owned\x07\x1b[2J\r\x08\x9b31m",
            b"[bold]markup[/] [/] [link=file:///etc]x[/link]",
            b"stratum+tcp://pool.test:3333",
            b"/containers/\xff\xfe\xed",
            b"layer 1 is not a readable tar stream",
            b"T1496",
            b"\xed\xb3\xbf\xc3\x28",
        ]
    )


def hostile_report(data: bytes) -> Report:
    s = [text(piece) + MARK for piece in split(data, FIELDS)]
    evidence = (
        Evidence(s[0], path=s[1], layer_index=1, excerpt=s[2], process=(s[3], s[5])),
        Evidence(s[9], destination=s[4], event_ids=(3,), excerpt=s[6]),
        Evidence(s[11]),
    )
    findings = tuple(
        Finding(
            rule_id=rule_id,
            title=s[10] + title,
            category=category,
            technique="T1496",
            severity=severity,
            confidence=Confidence.HIGH,
            source="runtime:rules",
            evidence=evidence,
            runtime_only=True,
            why=s[6],
            tags=(s[7],),
        )
        for rule_id, title, category, severity in (
            ("stratum-login", "Stratum login", Category.WEAPONIZATION, Severity.CRITICAL),
            ("hidden-executable", "Hidden file", Category.INITIAL_EXECUTION, Severity.MEDIUM),
        )
    )
    return Report(
        image=ImageInfo(
            reference=s[0],
            digest="sha256:" + "a" * 64,
            platform="linux/amd64",
            layers=2,
            entrypoint=(s[1], s[3]),
            cmd=(s[5],),
            user=s[9],
        ),
        verdict=Verdict.MALICIOUS,
        score=92,
        findings=findings,
        suppressed=findings[1:],
        iocs=Iocs(
            domains=(s[4],), ips=("192.0.2.10",), urls=(s[8],), wallets=(s[2],), pools=(s[7],)
        ),
        processes=(
            ProcessInfo(100, 0, s[1], (s[3], s[5]), start=0.01, stdout=s[6], names=(s[11],)),
            ProcessInfo(101, 100, s[8], (s[8], s[2]), 0.2, exit_code=0, chain=(100, 101)),
        ),
        network={
            "dns": [{"ts": 0.15, "name": s[4], "type": "A", "answer": "192.0.2.10"}],
            "http": [{"ts": 0.2, "method": s[9], "path": s[8], "headers": [[s[5], s[6]]]}],
            "docker_api": [{"ts": 0.5, "method": "POST", "path": s[8]}],
        },
        files=(
            FileChange(
                s[1], ChangeKind.CREATED, ContentType.ELF, sha256="b" * 64, link_target=s[3]
            ),
        ),
        events=({"seq": 0, "ts": 0.1, "kind": "process_executed", "argv": [s[3], s[5]]},),
        run=RunSummary(status="exited", reason=s[9], duration_seconds=4.2, exit_code=0, events=1),
        error=StageError("sandbox", "SandboxError", s[9], hint=s[10]),
        generated_at="2026-01-01T00:00:00+00:00",
        tool_version="0.1.0",
    )
