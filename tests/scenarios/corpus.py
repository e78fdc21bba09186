"""The scenario corpus as an acceptance check: scan every harmless re-enactment under
samples/scenarios/ (and the real-software images under samples/real/ when built) and compare
the report with samples/scenarios/EXPECTED.yaml. Used by test_corpus.py and by
scripts/detection-matrix, which writes docs/detection-matrix.md."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from detonate.attack import matches
from detonate.factory.oci import write_oci_archive
from detonate.factory.recipe import load_recipe_full
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Report
from detonate.pipeline import scan

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "samples" / "scenarios"
EXPECTED = SCENARIOS / "EXPECTED.yaml"
# Written later by a red team, differently from the scenarios, to check detection generalises.
VARIANTS = REPO / "samples" / "variants"
VARIANTS_EXPECTED = VARIANTS / "VARIANTS.yaml"
# Written for issue 9 by a red team that had not read the detectors: other languages, tools and
# styles for the same acts, and benign look-alikes.
WILD = REPO / "samples" / "wild"
WILD_EXPECTED = WILD / "EXPECTED.yaml"
# A held-out set for issue 9, written by another red team that had not read the detectors, on
# what detections were being added for (DGA and beacons, exfiltration, credential access,
# discovery before an act) and benign look-alikes; scored first-pass in docs/holdout.md.
HOLDOUT = REPO / "samples" / "holdout"
HOLDOUT_EXPECTED = HOLDOUT / "EXPECTED.yaml"
# A second held-out set for issue 9, written blind to the detectors and to the first one.
HOLDOUT2 = REPO / "samples" / "holdout2"
HOLDOUT2_EXPECTED = HOLDOUT2 / "EXPECTED.yaml"
# A third, written blind to the detectors and to both earlier sets (docs/holdout3.md).
HOLDOUT3 = REPO / "samples" / "holdout3"
HOLDOUT3_EXPECTED = HOLDOUT3 / "EXPECTED.yaml"
# Process discovery (T1057) without ps, six ways, and three benign /proc readers; written blind
# to the detectors (docs/procdisc.md).
PROCDISC = REPO / "samples" / "procdisc"
PROCDISC_EXPECTED = PROCDISC / "EXPECTED.yaml"
# Boot/RC script persistence (T1037.004) and interpreters running delivered code (T1059.004,
# .006, .007), with three benign look-alikes; written blind to the detectors (docs/interp.md).
INTERP = REPO / "samples" / "interp"
INTERP_EXPECTED = INTERP / "EXPECTED.yaml"
# Discovery by reading the host's own files instead of running the usual tools (T1082, T1016,
# T1049, T1087.001), six languages and ways, with three benign look-alikes that read
# /proc/cpuinfo, /proc/meminfo or /etc/hostname; written blind to the detectors
# (docs/lookaround.md).
LOOKAROUND = REPO / "samples" / "lookaround"
LOOKAROUND_EXPECTED = LOOKAROUND / "EXPECTED.yaml"
# Domain generation (T1568.002) in Go, Python, C, Node, Perl and busybox sh, with three benign
# look-alikes (a service list, a hash blocklist zone, a crawler); written blind to the detectors
# (docs/dga.md).
DGA = REPO / "samples" / "dga"
DGA_EXPECTED = DGA / "EXPECTED.yaml"
# Discovery by reading host files directly (T1049, T1082, T1613, T1057, T1087.001, T1016) in Go,
# C, Python, Perl, Node and busybox sh/awk, with three benign readers of sockstat, the own cgroup
# and the own user name; written blind to the detectors and to lookaround (docs/hostdisc.md).
HOSTDISC = REPO / "samples" / "hostdisc"
HOSTDISC_EXPECTED = HOSTDISC / "EXPECTED.yaml"
DECODEMEM = REPO / "samples" / "decodemem"
DECODEMEM_EXPECTED = DECODEMEM / "EXPECTED.yaml"
# Short idle stop: every scenario ends by itself; a quiet one need not cost the whole timeout.
CORPUS_SANDBOX = SandboxOptions(timeout_seconds=45, idle_seconds=6)


@dataclass(frozen=True)
class Detection:
    """A finding a harmful sample must produce (the `detections` of EXPECTED.yaml): `technique`
    (a found sub-technique satisfies it) from the rule `rule`, in one finding whose evidence
    cites events of every kind in `events` (none for a static finding). A technique that only
    another rule reports fails: the sample passes for the reason it was written for."""

    technique: str
    rule: str
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class Produced:
    """What one finding of a report gave: its rule, technique and the kinds of the events its
    evidence cites (sorted; "?" for an event past the report's cap)."""

    rule: str
    technique: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Expectation:
    name: str
    behaviour: str
    description: str
    verdict: str
    acceptable: tuple[str, ...]
    categories: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    detections: tuple[Detection, ...] = ()


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    verdict: str
    score: int
    categories: tuple[str, ...]
    techniques: tuple[str, ...]
    seconds: float
    error: str = ""
    missing_categories: tuple[str, ...] = field(default=())
    missing_techniques: tuple[str, ...] = field(default=())
    produced: tuple[Produced, ...] = field(default=())
    # declared detections the report does not bear out, one sentence each
    wrong_detections: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return (
            not self.error
            and self.verdict in self.expectation.acceptable
            and not self.missing_categories
            and not self.missing_techniques
            and not self.wrong_detections
        )


def load_expectations(path: Path = EXPECTED) -> dict[str, Expectation]:
    data = yaml.safe_load(path.read_text())
    return {
        name: Expectation(
            name=name,
            behaviour=str(entry["behaviour"]),
            description=entry.get("description", ""),
            verdict=entry["verdict"],
            acceptable=tuple(entry.get("acceptable") or [entry["verdict"]]),
            categories=tuple(entry.get("categories") or ()),
            techniques=tuple(entry.get("techniques") or ()),
            detections=tuple(
                Detection(str(d["technique"]), str(d["rule"]), tuple(d.get("events") or ()))
                for d in entry.get("detections") or ()
            ),
        )
        for name, entry in data["scenarios"].items()
    }


def technique_found(wanted: str, found: set[str]) -> bool:
    """A found sub-technique satisfies its parent (T1071.001 → T1071), not the reverse. The
    expectations are written with ATT&CK v18 ids; findings carry the current ones, and a
    previous id names its successor (T1562.004 is found by T1686: detonate.attack)."""
    return any(matches(wanted, t) for t in found)


def produced(report: Report) -> tuple[Produced, ...]:
    """Each finding of `report` as rule, technique and the kinds of the events it cites."""
    kinds = {event.get("seq"): str(event.get("kind")) for event in report.events}
    return tuple(
        Produced(
            finding.rule_id,
            finding.technique,
            tuple(
                sorted(
                    {
                        kinds.get(seq, "?")
                        for evidence in finding.evidence
                        for seq in evidence.event_ids
                    }
                )
            ),
        )
        for finding in report.findings
    )


def wrong_detections(detections: tuple[Detection, ...], found: tuple[Produced, ...]) -> list[str]:
    """Why each declared detection is not borne out by `found`: the rule did not fire, fired
    with another technique, or its evidence lacks an event kind. Empty when all hold."""
    problems = []
    for wanted in detections:
        by_rule = [p for p in found if p.rule == wanted.rule]
        with_technique = [p for p in by_rule if technique_found(wanted.technique, {p.technique})]
        others = sorted(
            {p.rule for p in found if technique_found(wanted.technique, {p.technique})}
            - {wanted.rule}
        )
        elsewhere = f" ({wanted.technique} came from {', '.join(others)})" if others else ""
        if not by_rule:
            problems.append(f"{wanted.technique}: {wanted.rule} did not fire{elsewhere}")
        elif not with_technique:
            techniques = ", ".join(sorted({p.technique for p in by_rule}))
            problems.append(
                f"{wanted.technique}: {wanted.rule} fired with {techniques} only{elsewhere}"
            )
        elif not any(set(wanted.events) <= set(p.events) for p in with_technique):
            cited = "; ".join(", ".join(p.events) or "no events" for p in with_technique)
            lacking = ", ".join(wanted.events)
            problems.append(
                f"{wanted.technique}: {wanted.rule}'s evidence cites {cited}, not all of {lacking}"
            )
    return problems


def judge(expectation: Expectation, report: Report, seconds: float) -> Outcome:
    categories = {f.category.value for f in report.findings}
    techniques = {f.technique for f in report.findings}
    found = produced(report)
    return Outcome(
        expectation=expectation,
        verdict=report.verdict.value,
        score=report.score,
        categories=tuple(sorted(categories)),
        techniques=tuple(sorted(techniques)),
        seconds=round(seconds, 1),
        error=f"{report.error.stage}: {report.error.message}" if report.error else "",
        missing_categories=tuple(c for c in expectation.categories if c not in categories),
        missing_techniques=tuple(
            t for t in expectation.techniques if not technique_found(t, techniques)
        ),
        produced=found,
        wrong_detections=tuple(wrong_detections(expectation.detections, found)),
    )


def run_scenario(
    expectation: Expectation, archive: Path, cache_dir: Path, artifacts_dir: Path | None = None
) -> Outcome:
    """Scan `archive` as the corpus test does; with `artifacts_dir`, the run is recorded there
    (a run record that `pipeline.rejudge` can judge again with later detectors)."""
    return judge(expectation, *scan_sample(archive, cache_dir, artifacts_dir))


def scan_sample(
    archive: Path, cache_dir: Path, artifacts_dir: Path | None = None
) -> tuple[Report, float]:
    started = time.monotonic()
    options = ScanOptions(cache_dir=cache_dir, sandbox=CORPUS_SANDBOX, artifacts_dir=artifacts_dir)
    report = scan(f"oci-archive:{archive}", options)
    return report, time.monotonic() - started


def write_archive(sample_dir: Path, out_dir: Path) -> Path:
    """Build one sample as an OCI archive only (no layout: a Debian-based wild sample is
    ~110 MB); the factory caches the debootstrap package layer they share."""
    built = load_recipe_full(sample_dir)
    archive = out_dir / f"{sample_dir.name}.oci.tar"
    write_oci_archive(built.spec, archive, built.platforms)
    return archive


def matrix_markdown(groups: list[tuple[str, list[Outcome]]]) -> str:
    lines = [
        "# Detection matrix",
        "",
        "Generated by `scripts/detection-matrix`: a full scan (static + sandbox + simulated",
        "internet) of every image of `samples/scenarios/` (THREATS.md 1–21, B1–B7; expectations",
        "in `EXPECTED.yaml`) and of `samples/variants/` (the same behaviours written differently",
        "by a red team after the detections existed; `VARIANTS.yaml`), of the wild set",
        "(`samples/wild/`, issue 9) and of the held-out set (`samples/holdout/`, written without",
        "reading the detectors: docs/holdout.md). A found sub-technique satisfies its parent;",
        "expectations written with ATT&CK v18 ids are met by their v19 successors. Each required",
        "technique of the scenarios, variants and wild set must come from the detection the",
        "sample declares (`detections`: the rule and the event kinds its evidence cites); one",
        "that only another rule reports is listed under missing as `T…: <rule> …`. The held-out",
        "set declares none (its expectations are the red team's).",
        "",
    ]
    for title, outcomes in groups:
        lines += _matrix_table(title, outcomes)
    return "\n".join(lines) + "\n"


def _matrix_table(title: str, outcomes: list[Outcome]) -> list[str]:
    passed = sum(o.ok for o in outcomes)
    lines = [
        f"## {title}",
        "",
        f"**{passed} of {len(outcomes)} as expected.**",
        "",
        "| scenario | THREATS.md | expected | found | score | expected techniques "
        "| found techniques | missing | ok |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        e = o.expectation
        missing = ", ".join(o.missing_categories + o.missing_techniques + o.wrong_detections)
        missing = missing or ("—" if o.ok else "")
        if o.error:
            missing = f"error: {o.error}"
        lines.append(
            f"| {e.name} | {e.behaviour} | {'/'.join(e.acceptable)} | {o.verdict} | {o.score} "
            f"| {', '.join(e.techniques) or '—'} | {', '.join(o.techniques) or '—'} "
            f"| {missing} | {'yes' if o.ok else '**no**'} |"
        )
    return [*lines, ""]
