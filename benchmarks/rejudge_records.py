"""Detect-stage time and judgement over recorded runs (issue 9 item 2: the process timeline).

    nice -n 10 .venv/bin/python benchmarks/rejudge_records.py DIR [DIR ...] [--rounds 3]
        [--save OUT] [--compare BASELINE]

Finds every run record under DIR (a corpus run by benchmarks/rejudge_corpus.py or the corpus
test, artifacts kept), judges each again with `pipeline.rejudge`, and prints the median of the
"detect" stage per record (best of --rounds per record, so a loaded machine's spikes count
less) and the total. --save writes each record's judgement (findings, verdict, score …) as JSON
under OUT; --compare prints every record whose judgement differs from one saved before (by
another checkout: the peer run), so a change that must not change verdicts shows that it did
not, or exactly where it did. Exits 1 when a record differs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from detonate.pipeline import rejudge
from detonate.report import json_report
from detonate.run_record import RECORD_NAME

JUDGED = ("findings", "suppressed", "verdict", "score", "detector_failures")


def judged(document: dict[str, object]) -> dict[str, object]:
    return {key: document.get(key) for key in JUDGED}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    records = sorted(p for d in args.dirs for p in d.rglob(RECORD_NAME))
    detect_times: list[float] = []
    wall_times: list[float] = []
    differ: list[str] = []
    for record in records:
        name = str(record.parent.relative_to(record.parents[4]).parent.parent)
        best = wall = float("inf")
        for _ in range(args.rounds):
            started = time.monotonic()
            report = rejudge(record.parent)
            wall = min(wall, time.monotonic() - started)
            best = min(best, sum(t.seconds for t in report.timings if t.stage == "detect"))
        detect_times.append(best)
        wall_times.append(wall)
        document = judged(json_report.to_document(report))
        key = name.replace("/", "__") + ".json"
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / key).write_text(json.dumps(document, indent=1, sort_keys=True))
        status = ""
        if args.compare:
            before = json.loads((args.compare / key).read_text())
            if before != json.loads(json.dumps(document)):
                differ.append(name)
                status = f"  DIFFERS (verdict {before['verdict']} -> {document['verdict']})"
        print(
            f"{name:<44} detect {best:6.3f} s  rejudge {wall:6.3f} s  "
            f"{document['verdict']}{status}",
            flush=True,
        )
    print(
        f"{len(records)} records: median detect {statistics.median(detect_times):.4f} s "
        f"(total {sum(detect_times):.2f} s), median rejudge {statistics.median(wall_times):.4f} s "
        f"(total {sum(wall_times):.2f} s); best of {args.rounds} per record"
    )
    if differ:
        print(f"{len(differ)} judged differently: {', '.join(differ)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
