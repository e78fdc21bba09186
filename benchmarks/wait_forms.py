"""Wait forms (issue 8): how long after the run starts each stand-in of samples/waits/ reaches
its payload (the exec of xmrig after its 900 s wait), and the time to the verdict.

    sudo .venv/bin/python benchmarks/wait_forms.py [--runs 3] [--form c-poll ...]
                                                    [--timeout 60] [--idle 15]

Every form is a full default scan (static + sandbox + simulated internet) of its image, built
once by the factory. Per form: the median over the runs of the payload's first event (seconds
after the container started), its ratio to the 900 s asked for, how the run ended, and the
median wall time of the whole scan. A form whose wait is not shortened never reaches its
payload: "never" and the run's end (idle or timeout) show it. real-reply asks for no delay
(it waits for a reply); its ratio is to its 30 s timeout. Prints a table; asserts nothing.
Needs root, runc, strace, gcc and go; the Python forms need debootstrap (else skipped).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from detonate.factory.build import build_sample, unbuildable
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.pipeline import scan

WAITS = Path(__file__).resolve().parent.parent / "samples" / "waits"


@dataclass(frozen=True)
class Sample:
    payload_seconds: float | None  # first payload event after the container started
    verdict_seconds: float  # the whole scan
    ended: str  # exited / idle / timeout
    run_seconds: float


def measure(archive: Path, payload_exec: str, options: ScanOptions) -> Sample:
    started = time.monotonic()
    report = scan(f"oci-archive:{archive}", options)
    verdict_seconds = time.monotonic() - started
    if report.error is not None:
        raise SystemExit(f"{archive.name}: {report.error.stage}: {report.error.message}")
    payload = next(
        (
            e["ts"]
            for e in report.events
            if e["kind"] == "process.exec" and e["path"] == payload_exec and e["succeeded"]
        ),
        None,
    )
    return Sample(payload, verdict_seconds, report.run.status, report.run.duration_seconds)


def row(form: str, asked: float, samples: list[Sample]) -> str:
    reached = [s.payload_seconds for s in samples if s.payload_seconds is not None]
    verdict = statistics.median(s.verdict_seconds for s in samples)
    ends = "/".join(sorted({s.ended for s in samples}))
    run = statistics.median(s.run_seconds for s in samples)
    if len(reached) == len(samples):
        payload = statistics.median(reached)
        shown, ratio = f"{payload:.2f}", f"{payload / asked:.4f}"
    else:
        shown = "never" if not reached else f"{len(reached)}/{len(samples)} runs"
        ratio = "—"
    return f"| {form} | {asked:g} | {shown} | {ratio} | {ends} after {run:.1f} s | {verdict:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="scans per form (median)")
    parser.add_argument("--form", action="append", help="only these forms (repeatable)")
    parser.add_argument("--timeout", type=int, default=SandboxOptions().timeout_seconds)
    parser.add_argument("--idle", type=int, default=SandboxOptions().idle_seconds)
    parser.add_argument("--out", type=Path, help="where to build the images (default: temp)")
    args = parser.parse_args()
    expected = yaml.safe_load((WAITS / "EXPECTED.yaml").read_text())["forms"]
    forms = args.form or list(expected)
    unknown = set(forms) - set(expected)
    if unknown:
        raise SystemExit(f"unknown forms: {', '.join(sorted(unknown))}")
    base = Path(tempfile.mkdtemp(prefix="detonate-waits-"))
    out = args.out or base / "images"
    missing = {form: reason for form in forms if (reason := unbuildable(WAITS / form))}
    for form, reason in missing.items():  # Python forms need debootstrap, one form musl-gcc
        print(f"skipped {form}: {reason}")
    forms = [form for form in forms if form not in missing]
    archives = {form: build_sample(WAITS / form, out, force=False).archive for form in forms}
    options = ScanOptions(
        cache_dir=base / "cache",
        sandbox=SandboxOptions(timeout_seconds=args.timeout, idle_seconds=args.idle),
    )
    print(f"{args.runs} run(s) per form, --timeout {args.timeout} --idle {args.idle}\n")
    print("| form | asked (s) | payload after (s, median) | ratio to asked | run ended "
          "| verdict after (s, median) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for form in forms:
        entry = expected[form]
        samples = [
            measure(archives[form], entry["payload"]["exec"], options) for _ in range(args.runs)
        ]
        print(row(form, float(entry["wait"]["seconds"]), samples), flush=True)


if __name__ == "__main__":
    main()
