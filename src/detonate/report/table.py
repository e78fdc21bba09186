"""The terminal summary: verdict first, then findings by severity, then IOCs."""

from __future__ import annotations

import re

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from detonate.attack import previous_ids
from detonate.model.findings import Severity
from detonate.model.report import Report, Verdict

VERDICT_STYLE = {
    Verdict.MALICIOUS: "bold white on red",
    Verdict.SUSPICIOUS: "bold black on yellow",
    Verdict.CLEAN: "bold white on green",
    Verdict.ERROR: "bold white on magenta",
}
SEVERITY_ORDER = list(Severity)[::-1]
SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
MAX_EVIDENCE_CHARS = 90
# C0 controls but newline, DEL, C1 controls: what a terminal would act on
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Sample-controlled text as the terminal may show it: control characters (an ESC that
    retitles the window or moves the cursor, BEL, CR) and lone surrogates (undecodable bytes,
    which a UTF-8 stdout refuses) become visible escapes: "\\x1b", "\\udcff"."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= MAX_EVIDENCE_CHARS else text[: MAX_EVIDENCE_CHARS - 1] + "…"
    return _printable(text)


def _headline(report: Report) -> Panel:
    image = report.image
    lines = Text()
    lines.append(f" {report.verdict.value.upper()} ", style=VERDICT_STYLE[report.verdict])
    lines.append(f"  score {report.score}/100   {len(report.findings)} findings")
    if report.suppressed:
        lines.append(f" ({len(report.suppressed)} suppressed)")
    lines.append("\n")
    lines.append(f"image     {_printable(image.reference)}\n")
    if image.digest:
        lines.append(f"digest    {_printable(image.digest)}\n")
        platform = _printable(image.platform)
        lines.append(f"platform  {platform}   layers {image.layers}   files {image.files}\n")
    run = report.run
    lines.append(f"run       {run.status}" + (f" ({_printable(run.reason)})" if run.reason else ""))
    if run.status != "not-run":
        lines.append(
            f" in {run.duration_seconds:.1f} s, {run.events} events, "
            f"{len(report.processes)} processes, {len(report.files)} file changes"
        )
        if run.skipped_sleep_seconds:
            lines.append(f", {run.skipped_sleep_seconds:.0f} s of sleep skipped")
        if run.phase_seconds:
            phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.phase_seconds)
            lines.append(f"\nsandbox   {phases}")
    if report.error:
        message = _printable(report.error.message)
        lines.append(f"\nerror     [{report.error.stage}] {message}", style="magenta")
        if report.error.hint:
            lines.append(f"\nhint      {_printable(report.error.hint)}")
    for failure in report.detector_failures:  # judged without this detector's findings
        message = _printable(f"{failure.detector}: {failure.error}")
        lines.append(f"\ndetector  failed, its findings are missing: {message}", style="magenta")
    return Panel(lines, title="detonate", expand=False)


def _findings(report: Report) -> Table:
    release = f"MITRE ATT&CK v{report.attack_version}" if report.attack_version else "ATT&CK"
    table = Table(title="Findings", caption=f"technique ids: {release}", expand=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("finding", ratio=3)
    table.add_column("ATT&CK", no_wrap=True)
    table.add_column("evidence", ratio=4, overflow="fold")
    ordered = sorted(report.findings, key=lambda f: (SEVERITY_ORDER.index(f.severity), f.rule_id))
    for finding in ordered:
        first = finding.evidence[0] if finding.evidence else None
        evidence = ""
        if first:
            evidence = first.path or first.excerpt or first.description
            if first.path and first.excerpt:
                evidence = f"{first.path}: {first.excerpt}"
        more = len(finding.evidence) - 1
        table.add_row(
            Text(finding.severity.value, style=SEVERITY_STYLE[finding.severity]),
            Text(_printable(finding.title))
            + Text(f"\n{finding.rule_id} · {finding.category.value}", "dim"),
            Text(finding.technique)
            + Text("".join(f"\nwas {p}" for p in previous_ids(finding.technique)), "dim")
            + Text("\nruntime" if finding.runtime_only else "", "dim"),
            Text(_clip(evidence)) + Text(f" (+{more} more)" if more > 0 else "", "dim"),
        )
    return table


def _iocs(report: Report) -> Table | None:
    iocs = report.iocs
    rows = [
        ("pools", iocs.pools),
        ("wallets", iocs.wallets),
        ("urls", iocs.urls),
        ("domains", iocs.domains),
        ("ips", iocs.ips),
    ]
    if not any(values for _, values in rows):
        return None
    table = Table(title="Indicators", show_header=False, expand=False)
    table.add_column("kind", style="bold")
    table.add_column("values", overflow="fold")
    for kind, values in rows:
        if values:
            shown = ", ".join(values[:8]) + (f" (+{len(values) - 8})" if len(values) > 8 else "")
            # Text, not str: rich reads a str as markup, and "[/]" in a pool URL raises
            table.add_row(kind, Text(_printable(shown)))
    return table


def render(report: Report, console: Console) -> None:
    parts: list[Panel | Table] = [_headline(report)]
    if report.findings:
        parts.append(_findings(report))
    iocs = _iocs(report)
    if iocs is not None:
        parts.append(iocs)
    console.print(Group(*parts))
