"""Rejudge over a corpus (issue 9, item 1): every image scanned with artifacts kept, then its
run record judged again by `pipeline.rejudge` after the image's unpacked layers are gone.

    sudo .venv/bin/python benchmarks/rejudge_corpus.py [--group scenarios|variants|wild ...]
        [--name NAME ...]

Prints per image whether the rejudge gave the original findings, suppressions, verdict and
score (the JSON documents' sections compared), the record's size, the seconds the scan spent
writing it ("record" stage) against its "detect" stage, and the rejudge's wall time against the
scan's. Then the medians and ratios. Exits 1 when any image was judged differently.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from detonate.factory.build import build_all
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.model.report import Report
from detonate.pipeline import rejudge, scan
from detonate.report import json_report
from detonate.run_record import find_run_record

HERE = Path(__file__).resolve().parent.parent
GROUPS = {
    "scenarios": HERE / "samples" / "scenarios",
    "variants": HERE / "samples" / "variants",
    "wild": HERE / "samples" / "wild",
}
JUDGED = ("findings", "suppressed", "verdict", "score", "iocs", "detector_failures")
SANDBOX = SandboxOptions(timeout_seconds=45, idle_seconds=6)  # as the corpus test


def judged(report: Report) -> dict[str, object]:
    document = json_report.to_document(report)
    return {key: document[key] for key in JUDGED}


def stage(report: Report, name: str) -> float:
    return sum(t.seconds for t in report.timings if t.stage == name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", action="append", choices=tuple(GROUPS))
    parser.add_argument("--name", action="append", default=[])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rejudge-corpus-") as work:
        out = Path(work)
        for group in args.group or ["scenarios"]:
            for built in build_all(GROUPS[group], out / "images"):
                if args.name and built.name not in args.name:
                    continue
                cache, artifacts = out / "cache", out / "runs" / built.name
                started = time.monotonic()
                original = scan(
                    f"oci-archive:{built.archive}",
                    ScanOptions(cache_dir=cache, artifacts_dir=artifacts, sandbox=SANDBOX),
                )
                scan_seconds = time.monotonic() - started
                if original.error:
                    print(f"{built.name:<34} scan error: {original.error.message}", flush=True)
                    continue
                shutil.rmtree(cache / "layers", ignore_errors=True)  # detection needs no image
                record = find_run_record(artifacts)
                started = time.monotonic()
                again = rejudge(record.parent)
                rejudge_seconds = time.monotonic() - started
                same = judged(again) == judged(original)
                row = {
                    "name": built.name,
                    "same": same,
                    "verdict": original.verdict.value,
                    "events": original.run.events,
                    "record_kib": record.stat().st_size / 1024,
                    "record_s": stage(original, "record"),
                    "detect_s": stage(original, "detect"),
                    "scan_s": scan_seconds,
                    "rejudge_s": rejudge_seconds,
                }
                rows.append(row)
                print(
                    f"{built.name:<34} {'same' if same else 'DIFFERENT':<9} "
                    f"{row['verdict']:<10} events {row['events']:>6}  record "
                    f"{row['record_kib']:>8.1f} KiB, written in {row['record_s']:.3f} s "
                    f"(detect {row['detect_s']:.3f} s)  scan {scan_seconds:6.2f} s, "
                    f"rejudge {rejudge_seconds:6.2f} s",
                    flush=True,
                )
                if not same:
                    before, after = judged(original), judged(again)
                    for key in JUDGED:
                        if before[key] != after[key]:
                            print(f"    {key}: {before[key]!r}\n    → {after[key]!r}")
    if not rows:
        return 0

    def median(key: str) -> float:
        return statistics.median(float(r[key]) for r in rows)

    print(
        f"\n{sum(bool(r['same']) for r in rows)} of {len(rows)} rejudged the same. Medians: "
        f"record {median('record_kib'):.1f} KiB written in {median('record_s'):.3f} s "
        f"({median('record_s') / max(median('scan_s'), 1e-9):.1%} of the scan), detect "
        f"{median('detect_s'):.3f} s; scan {median('scan_s'):.2f} s, rejudge "
        f"{median('rejudge_s'):.2f} s (ratio {median('rejudge_s') / median('scan_s'):.3f})"
    )
    return 0 if all(r["same"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
