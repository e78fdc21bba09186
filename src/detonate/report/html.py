"""The HTML report: one self-contained page, readable offline and safe to open.

Everything is inline (CSS, no script) and a Content-Security-Policy of `default-src 'none'`
forbids the page any request, so a report opened in a browser never calls out. Strings from the
image (file names, argv, excerpts) are hostile: Jinja2 autoescapes every one of them.

`report.processes`, `report.network` and `report.files` are JSON-ready records whose exact shape
belongs to the sandbox; they are rendered generically (a table per list of records) so a new
field shows up without a template change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2

from detonate import __version__
from detonate.attack import technique
from detonate.model.findings import Category, Finding, Severity
from detonate.model.report import Report
from detonate.report import json_report

CATEGORY_TITLES = {
    Category.INITIAL_EXECUTION: "Initial execution",
    Category.WEAPONIZATION: "Weaponization",
    Category.PROPAGATION: "Propagation",
    Category.COMMUNICATION: "Communication",
    Category.COLLECTION_EXFILTRATION: "Collection and exfiltration",
}
SEVERITY_ORDER = list(Severity)[::-1]  # critical first
# Network sections in reading order: (title, keys the sandbox may use for it).
NETWORK_SECTIONS = (
    ("DNS", ("dns",)),
    ("HTTP", ("http",)),
    ("TLS", ("tls",)),
    ("Stratum", ("stratum",)),
    ("IRC", ("irc",)),
    ("Docker API", ("docker_api", "docker-api", "docker")),
)
MAX_ROWS = 1000  # per table; the JSON report keeps them all
MAX_CELL_CHARS = 400
MAX_COLUMNS = 12
TIME_KEYS = ("ts", "time", "start", "started")


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    hidden_rows: int = 0


@dataclass
class Section:
    title: str
    table: Table | None = None
    text: str = ""  # a non-list value, as indented JSON


@dataclass
class ProcessNode:
    label: str
    detail: str
    children: list[ProcessNode] = field(default_factory=list)


def render(report: Report) -> str:
    """The report as one HTML document (UTF-8 text)."""
    static_only = report.run.status == "not-run"
    document = run_records(report)
    return _template().render(
        report=report,
        tool_version=report.tool_version or __version__,
        static_only=static_only,
        groups=_finding_groups(report.findings),
        techniques={f.technique: technique(f.technique) for f in report.findings},
        severity_counts=_severity_counts(report.findings),
        runtime_only=sum(1 for f in report.findings if f.runtime_only),
        ioc_rows=_ioc_rows(report),
        process_tree=_process_tree(document["processes"]),
        process_table=_table(document["processes"]),
        timeline=_timeline(document),
        network=_network_sections(report.network),
        files=_table(document["files"]),
    )


RUN_RECORDS = ("processes", "files", "network", "events")


def run_records(report: Report) -> dict[str, Any]:
    """The run's records the page shows, as plain mappings: these entries of the JSON
    document, without converting the findings and everything else the page reads as records
    (a third of a render's time went to converting what it never used)."""
    return {name: json_report.plain(getattr(report, name)) for name in RUN_RECORDS}


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("detonate.report", "templates"),
        autoescape=True,  # every image-derived string is escaped, whatever the file suffix
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("report.html.j2")


def _finding_groups(findings: tuple[Finding, ...]) -> list[tuple[str, list[Finding]]]:
    groups = []
    for category, title in CATEGORY_TITLES.items():
        members = [f for f in findings if f.category is category]
        members.sort(key=lambda f: (SEVERITY_ORDER.index(f.severity), f.rule_id))
        if members:
            groups.append((title, members))
    return groups


def _severity_counts(findings: tuple[Finding, ...]) -> list[tuple[str, int]]:
    return [(s.value, sum(1 for f in findings if f.severity is s)) for s in SEVERITY_ORDER]


def _ioc_rows(report: Report) -> list[tuple[str, tuple[str, ...]]]:
    iocs = report.iocs
    rows = [
        ("Mining pools", iocs.pools),
        ("Wallets", iocs.wallets),
        ("URLs", iocs.urls),
        ("Domains", iocs.domains),
        ("IP addresses", iocs.ips),
        ("File hashes (SHA-256)", iocs.file_hashes),
    ]
    return [(kind, values) for kind, values in rows if values]


def _cell(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        text = " ".join(value)  # argv
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _table(records: Iterable[Any]) -> Table | None:
    """A table over records (dicts); columns are the keys in first-seen order."""
    rows_in = [r if isinstance(r, Mapping) else {"value": r} for r in records]
    if not rows_in:
        return None
    columns: list[str] = []
    for record in rows_in:
        for key in record:
            if str(key) not in columns:
                columns.append(str(key))
    columns = columns[:MAX_COLUMNS]
    shown = rows_in[:MAX_ROWS]
    rows = [[_cell(record.get(c)) for c in columns] for record in shown]
    return Table(columns, rows, hidden_rows=len(rows_in) - len(shown))


def _process_label(record: Mapping[str, Any]) -> tuple[str, str]:
    argv = record.get("argv")
    command = " ".join(str(a) for a in argv) if isinstance(argv, list | tuple) else ""
    command = command or str(record.get("exe") or record.get("path") or record.get("name") or "?")
    shown = ("applet", "exit_code", "signal")
    extras = [f"{k}={_cell(record[k])}" for k in shown if record.get(k) not in (None, "")]
    return _cell(command), " ".join(extras)


def _process_tree(processes: list[dict[str, Any]]) -> list[ProcessNode]:
    """Nest processes by ppid -> pid; empty when the records carry no pids."""
    if not processes or not all(isinstance(p, Mapping) and "pid" in p for p in processes):
        return []
    by_pid: dict[Any, dict[str, Any]] = {}
    for record in processes:
        by_pid.setdefault(record["pid"], record)
    children: dict[Any, list[Any]] = {}
    roots = []
    for pid, record in by_pid.items():
        parent = record.get("ppid")
        if parent in by_pid and parent != pid:
            children.setdefault(parent, []).append(pid)
        else:
            roots.append(pid)
    placed: set[Any] = set()

    def build(pid: Any) -> ProcessNode:
        placed.add(pid)
        command, detail = _process_label(by_pid[pid])
        node = ProcessNode(f"[{pid}] {command}", detail)
        node.children = [build(child) for child in children.get(pid, []) if child not in placed]
        return node

    tree = [build(pid) for pid in roots]
    # A ppid cycle leaves processes unreachable from any root: list them at the top level.
    tree += [build(pid) for pid in by_pid if pid not in placed]
    return tree


def _when(record: Mapping[str, Any]) -> float | None:
    for key in TIME_KEYS:
        value = record.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _summary(record: Mapping[str, Any]) -> str:
    skip = {*TIME_KEYS, "seq", "kind"}
    return _cell(" ".join(f"{k}={_cell(v)}" for k, v in record.items() if k not in skip))


def _timeline(document: Mapping[str, Any]) -> Table | None:
    """The run's events in time order; without them, every timestamped record of processes,
    network and files."""
    entries: list[tuple[float, str, Mapping[str, Any]]] = []
    sources: list[tuple[str, Any]] = [("event", document.get("events", []))]
    if not document.get("events"):
        sources = [("process", document["processes"]), ("file", document["files"])]
        sources += [(f"net:{key}", value) for key, value in document["network"].items()]
    for source, records in sources:
        if not isinstance(records, list | tuple):
            continue
        for record in records:
            if isinstance(record, Mapping) and (when := _when(record)) is not None:
                entries.append((when, str(record.get("kind", source)), record))
    if not entries:
        return None
    entries.sort(key=lambda e: (e[0], e[1]))
    rows = [[f"{when:.3f}", source, _summary(r)] for when, source, r in entries[:MAX_ROWS]]
    return Table(["t (s)", "source", "what"], rows, hidden_rows=max(0, len(entries) - MAX_ROWS))


def _network_sections(network: dict[str, Any]) -> list[Section]:
    sections = []
    used: set[str] = set()
    for title, keys in NETWORK_SECTIONS:
        key = next((k for k in keys if k in network), None)
        if key is None:
            sections.append(Section(title))
            continue
        used.add(key)
        sections.append(_section(title, network[key]))
    for key in sorted(network):  # anything else the sandbox recorded (connections, pcap …)
        if key not in used:
            sections.append(_section(key.replace("_", " ").capitalize(), network[key]))
    return sections


def _section(title: str, value: Any) -> Section:
    if isinstance(value, list | tuple):
        return Section(title, table=_table(value))
    if isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):
        return Section(title, table=_table({"key": k, **v} for k, v in value.items()))
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return Section(title, text=text)
