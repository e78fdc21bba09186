"""The threat report as JSON, Markdown or one self-contained HTML page with inline SVG charts.

Everything shown comes from attackers (image names, wallets, domains): the HTML escapes every
value and its Content-Security-Policy allows nothing to load or run (no scripts, no CDN).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

VERDICT_COLOURS = {
    "malicious": "#c62828",
    "suspicious": "#ef6c00",
    "clean": "#2e7d32",
    "error": "#757575",
}
SERIES_COLOURS = {"sessions": "#90a4ae", "attacks": "#c62828", "scans": "#1565c0"}


def render(figures: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(figures, indent=2)
    if fmt == "md":
        return markdown(figures)
    if fmt == "html":
        return html(figures)
    raise ValueError(f"unknown report format {fmt!r}")


# -- Markdown ---------------------------------------------------------------------------------


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "_none in this window_\n"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def markdown(f: dict[str, Any]) -> str:
    t = f["totals"]
    parts = [
        "# detonate threat report",
        f"Window: {f['window']['since']} to {f['window']['until']}\n",
        _md_table(
            ["sessions", "attacks", "deployments", "scans", "scans done", "sources"],
            [
                [
                    t["sessions"],
                    t["attacks"],
                    t["deployments"],
                    t["scans"],
                    t["scans_done"],
                    t["sources"],
                ]
            ],
        ),
        "## Per day",
        _md_table(
            ["day", "sessions", "attacks", "scans", *VERDICT_COLOURS],
            [
                [d["day"], d["sessions"], d["attacks"], d["scans"]]
                + [d["verdicts"][v] for v in VERDICT_COLOURS]
                for d in f["per_day"]
            ],
        ),
        "## Time to first attack",
        _md_table(
            ["honeypot", "started", "first attack", "seconds"],
            [
                [r["honeypot"], r["started_at"], r["first_attack_at"] or "none yet", r["seconds"]]
                for r in f["time_to_first_attack"]
            ],
        ),
        "## Categories (share of done scans)",
        _md_table(
            ["category", "scans", "share"],
            [[c["name"], c["count"], _pct(c["share"])] for c in f["categories"]],
        ),
        "## Objectives (share of done scans)",
        _md_table(
            ["objective", "scans", "share"],
            [[c["name"], c["count"], _pct(c["share"])] for c in f["objectives"]],
        ),
        "## ATT&CK techniques",
        _md_table(
            ["technique", "category", "scans", "findings", "example"],
            [
                [r["technique"], r["category"], r["scans"], r["findings"], r["example"]]
                for r in f["techniques"]
            ],
        ),
    ]
    for key, title in _TOP_LISTS:
        parts += [f"## {title}", _md_table(["value", "count"], _rows(f[key]))]
    return "\n".join(parts)


_TOP_LISTS = (
    ("top_images", "Top deployed images"),
    ("top_scanned_images", "Top scanned images"),
    ("families", "Families"),
    ("pools", "Mining pools"),
    ("wallets", "Wallets"),
    ("c2_domains", "C2 domains"),
    ("c2_addresses", "C2 addresses"),
    ("source_countries", "Source countries"),
    ("escape_intent", "Escape intent in deployments"),
)


def _rows(entries: list[dict[str, Any]]) -> list[list[Any]]:
    return [[entry["name"], entry["count"]] for entry in entries]


# -- HTML -------------------------------------------------------------------------------------

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121;background:#fff}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left}th{background:#f5f5f5}.totals td{font-size:20px;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:24px}.grid>section{flex:1 1 420px}
.legend span{display:inline-block;margin-right:12px}.sw{display:inline-block;width:10px;
height:10px;margin-right:4px}
code{word-break:break-all}
"""


def _bars_per_day(per_day: list[dict[str, Any]], series: dict[str, str], title: str) -> str:
    """Grouped bars, one group a day."""
    width, height, pad = 640, 220, 30
    peak = max([1] + [d[name] for d in per_day for name in series])
    group = (width - pad) / max(1, len(per_day))
    bar = max(1.0, group / (len(series) + 1))
    shapes = []
    for i, day in enumerate(per_day):
        for j, (name, colour) in enumerate(series.items()):
            value = day[name]
            h = (height - 2 * pad) * value / peak
            x = pad + i * group + j * bar
            shapes.append(
                f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(day["day"])} {name}: '
                f"{value}</title></rect>"
            )
        if len(per_day) <= 14 or i % max(1, len(per_day) // 10) == 0:
            shapes.append(
                f'<text x="{pad + i * group:.1f}" y="{height - 10}" font-size="10">'
                f"{escape(day['day'][5:])}</text>"
            )
    shapes.append(f'<text x="2" y="{pad - 8}" font-size="10">max {peak}</text>')
    return _svg(title, width, height, shapes) + _legend(series)


def _stacked_verdicts(per_day: list[dict[str, Any]]) -> str:
    width, height, pad = 640, 220, 30
    peak = max([1] + [sum(d["verdicts"].values()) for d in per_day])
    group = (width - pad) / max(1, len(per_day))
    shapes = []
    for i, day in enumerate(per_day):
        y = height - pad
        for verdict, colour in VERDICT_COLOURS.items():
            value = day["verdicts"][verdict]
            h = (height - 2 * pad) * value / peak
            y -= h
            if value:
                shapes.append(
                    f'<rect x="{pad + i * group:.1f}" y="{y:.1f}" width="{group * 0.8:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{escape(day["day"])} {verdict}: '
                    f"{value}</title></rect>"
                )
    shapes.append(f'<text x="2" y="{pad - 8}" font-size="10">max {peak}</text>')
    return _svg("Verdict mix per day", width, height, shapes) + _legend(VERDICT_COLOURS)


def _hbars(entries: list[dict[str, Any]], title: str, colour: str, share: bool) -> str:
    if not entries:
        return "<p>none in this window</p>"
    width, row = 640, 22
    height = row * len(entries) + 10
    peak = max([1e-9] + [e["share"] if share else e["count"] for e in entries])
    shapes = []
    for i, entry in enumerate(entries):
        value = entry["share"] if share else entry["count"]
        w = 380 * value / peak
        label = f"{value * 100:.1f}%" if share else str(value)
        y = 5 + i * row
        shapes.append(
            f'<text x="0" y="{y + 14}" font-size="12">{escape(str(entry["name"])[:40])}</text>'
            f'<rect x="220" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{colour}"/>'
            f'<text x="{224 + w:.1f}" y="{y + 14}" font-size="12">{label}</text>'
        )
    return _svg(title, width, height, shapes)


def _svg(title: str, width: int, height: int, shapes: list[str]) -> str:
    return (
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(shapes)}</svg>"
    )


def _legend(series: dict[str, str]) -> str:
    items = "".join(
        f'<span><i class="sw" style="background:{colour}"></i>{escape(name)}</span>'
        for name, colour in series.items()
    )
    return f'<div class="legend">{items}</div>'


def _html_table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p>none in this window</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html(f: dict[str, Any]) -> str:
    t = f["totals"]
    window = f"{f['window']['since']} to {f['window']['until']}"
    sections = [
        f"<h1>detonate threat report</h1><p>Window: {escape(window)}</p>",
        '<table class="totals"><tr>'
        + "".join(
            f"<th>{escape(label)}</th>"
            for label in ("sessions", "attacks", "deployments", "scans", "sources")
        )
        + "</tr><tr>"
        + "".join(
            f"<td>{t[key]}</td>"
            for key in ("sessions", "attacks", "deployments", "scans", "sources")
        )
        + "</tr></table>",
        "<h2>Attacks and scans per day</h2>"
        + _bars_per_day(f["per_day"], SERIES_COLOURS, "Sessions, attacks and scans per day"),
        "<h2>Verdict mix over time</h2>" + _stacked_verdicts(f["per_day"]),
        '<div class="grid"><section><h2>Categories</h2>'
        + _hbars(f["categories"], "Share of done scans per category", "#6a1b9a", share=True)
        + "</section><section><h2>Objectives</h2>"
        + _hbars(f["objectives"], "Share of done scans per objective", "#c62828", share=True)
        + "</section></div>",
        "<h2>Source countries</h2>"
        + _hbars(f["source_countries"], "Sessions per source country", "#00838f", share=False),
        "<h2>Time to first attack</h2>"
        + _html_table(
            ["honeypot", "started", "first attack", "seconds"],
            [
                [r["honeypot"], r["started_at"], r["first_attack_at"] or "none yet", r["seconds"]]
                for r in f["time_to_first_attack"]
            ],
        ),
        "<h2>ATT&amp;CK techniques</h2>"
        + _html_table(
            ["technique", "category", "scans", "findings", "example"],
            [
                [r["technique"], r["category"], r["scans"], r["findings"], r["example"]]
                for r in f["techniques"]
            ],
        ),
    ]
    sections += [
        f"<h2>{escape(title)}</h2>" + _html_table(["value", "count"], _rows(f[key]))
        for key, title in _TOP_LISTS
        if key != "source_countries"
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>detonate threat report</title><style>{STYLE}</style></head><body>"
        + "".join(sections)
        + "</body></html>\n"
    )
