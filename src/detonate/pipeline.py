"""`scan(target, options) -> Report`: the only place that knows the order of the stages.

    acquire → unpack → static ──────────────────────────┬─► suppress → verdict → Report
                     └► sandbox (+ simulated internet) → detect ┘
                        (skipped with static_only)      └► run record (with artifacts_dir)

`rejudge(run_dir) -> Report` starts from a run record instead: its detect → suppress →
verdict are today's, over the run as it was recorded (detonate.run_record).

A stage that fails ends the scan with `verdict: error`, naming the stage and the reason; the
findings gathered before it are kept.

Safe to run several times at once in one process (the service's workers do): a scan's state
lives in its own call. `cancel` (a threading.Event) stops a scan between stages and ends a
running sandbox early; the report then says `verdict: error`, stage "cancelled". Ctrl-C
(KeyboardInterrupt) ends the scan the same way, with the stage it stopped and "interrupted".
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from detonate import __version__
from detonate.acquire import acquire
from detonate.attack import attack_version
from detonate.cache.leases import ScanLease
from detonate.cache.prune import enforce_budget
from detonate.cache.roots import image_items
from detonate.detect import detect
from detonate.errors import DetonateError, RunRecordError, ScanCancelled
from detonate.model.event_codec import event_record
from detonate.model.filesystem import Rootfs
from detonate.model.findings import DetectorFailure, Finding
from detonate.model.image import AcquiredImage
from detonate.model.iocs import Iocs
from detonate.model.options import ScanOptions
from detonate.model.report import ImageInfo, Report, RunSummary, StageError, StageTiming, Verdict
from detonate.model.runtime import EndReason, RunResult, RunStatus
from detonate.progress import NullProgress, Progress
from detonate.rules.loader import ruleset_hash
from detonate.run_record import (
    ImageFiles,
    RunRecord,
    find_run_record,
    kept_image_files,
    load_run_record,
    missing_artifacts,
    record_path,
    run_view,
    write_run_record,
)
from detonate.sandbox.network_report import network_section, runtime_iocs
from detonate.sandbox.session import sandboxed_run, warm_simulator, watch_analyser
from detonate.static import analyze
from detonate.unpack import unpack
from detonate.verdict.score import judge
from detonate.verdict.suppress import Suppression, apply_suppressions, load_suppressions

Clock = Callable[[], datetime]
MAX_REPORTED_EVENTS = 20_000  # the full stream stays in the run's artifacts


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Timings:
    def __init__(self) -> None:
        self.done: list[StageTiming] = []
        self.current = "acquire"  # the stage an interrupt stops

    def add(self, name: str, started: float) -> None:
        self.done.append(StageTiming(name, round(time.monotonic() - started, 3)))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.current = name
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, started)


def _image_info(reference: str, image: AcquiredImage | None, rootfs: Rootfs | None) -> ImageInfo:
    if image is None:
        return ImageInfo(reference=reference)
    return ImageInfo(
        reference=image.reference,
        digest=image.digest,
        platform=str(image.platform),
        config_digest=image.config_digest,
        layers=len(image.layers),
        files=len(rootfs.entries) if rootfs else 0,
        bytes_unpacked=rootfs.bytes_unpacked if rootfs else 0,
        entrypoint=image.config.entrypoint,
        cmd=image.config.cmd,
        user=image.config.user,
    )


def _end_reason(result: RunResult, options: ScanOptions) -> str:
    """Why the run stopped, in words: "idle for 2 s (…)", and the limits the sample hit."""
    info = result.run
    hit = f"; limits hit: {', '.join(info.limits_hit)}" if info.limits_hit else ""
    return {
        EndReason.EXITED: f"the entrypoint exited with code {info.exit_code}",
        EndReason.TIMEOUT: f"the {options.sandbox.timeout_seconds} s timeout was reached",
        EndReason.IDLE: f"idle for {options.sandbox.idle_seconds} s (every wait blocked on input "
        "or a timer loop, no CPU)",
        EndReason.TRACE_LIMIT: "the trace reached its size limit",
        EndReason.INTERRUPTED: "the analyser was interrupted",
    }.get(info.ended_by, info.error or info.ended_by.value) + hit


def _run_summary(result: RunResult, options: ScanOptions) -> RunSummary:
    info = result.run
    return RunSummary(
        status=info.ended_by.value if info.status is RunStatus.COMPLETED else "error",
        reason=_end_reason(result, options),
        duration_seconds=round(info.duration_seconds, 3),
        exit_code=info.exit_code,
        events=info.events,
        events_lost=info.lines_lost,
        parse_errors=info.parse_errors,
        skipped_sleep_seconds=info.skipped_sleep_seconds,
        skipped_seconds_by_process=info.skipped_by_process,
        cpu_seconds=round(info.cpu_seconds, 3),
        memory_peak_bytes=info.memory_peak_bytes,
        limits_hit=info.limits_hit,
        events_in_report=min(len(result.events), MAX_REPORTED_EVENTS),
        phase_seconds=info.phase_seconds,
    )


def _ruleset_hash(options: ScanOptions) -> str:
    """The hash of the rules that judged the scan; empty when they could not be read (the
    scan's error already says why)."""
    try:
        return ruleset_hash(options.static.extra_rules_dir)
    except DetonateError:
        return ""


def _check(cancel: threading.Event | None, before: str) -> None:
    if cancel is not None and cancel.is_set():
        raise ScanCancelled(f"the scan was cancelled before {before}")


def _keep_cache_within(options: ScanOptions) -> None:
    """The cache budget: a failure to prune never fails the scan (the next one tries again)."""
    with contextlib.suppress(OSError):
        enforce_budget(options.cache_dir, options.cache_max_bytes)


def scan(
    target: str,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
    clock: Clock = utc_now,
    cancel: threading.Event | None = None,
) -> Report:
    options = options or ScanOptions()
    progress = progress or NullProgress()
    timings = _Timings()
    image: AcquiredImage | None = None
    rootfs: Rootfs | None = None
    findings: list[Finding] = []
    iocs = Iocs()
    error: StageError | None = None
    run: RunResult | None = None
    suppressions: tuple[Suppression, ...] = ()
    failures: tuple[DetectorFailure, ...] = ()
    # The lease keeps what the scan uses in the cache until it ends, whatever prunes meanwhile.
    with ScanLease(options.cache_dir) as lease:
        try:
            # Read first: a broken ignore file should fail before minutes of analysis, not after.
            suppressions = load_suppressions(options.ignore_file) if options.ignore_file else ()
            if not options.static_only:
                watch_analyser(options.cache_dir)  # before the simulator and the layers exist
                warm_simulator()  # its simulated internet starts during acquire, unpack, static
            _check(cancel, "acquire")
            with timings.stage("acquire"), lease.adding():
                image = acquire(target, options.cache_dir, options.acquire, progress)
                lease.hold(image_items(image))
            _check(cancel, "unpack")
            with timings.stage("unpack"):
                rootfs = unpack(image, options.cache_dir, options.unpack, progress)
            _check(cancel, "static")
            with timings.stage("static"):
                static_options = options.static
                if static_options.results_cache is None:  # per-content results live in the cache
                    static_options = replace(
                        static_options, results_cache=options.cache_dir / "results"
                    )
                static = analyze(image, rootfs, static_options, progress)
            findings = list(static.findings)
            iocs = iocs.merged(static.iocs)
            if not options.static_only:
                _check(cancel, "the sandbox run")
                timings.current, started = "sandbox", time.monotonic()
                with sandboxed_run(
                    image, rootfs, options.sandbox, progress, options.artifacts_dir, cancel
                ) as run:
                    timings.add("sandbox", started)
                    if cancel is not None and cancel.is_set():
                        raise ScanCancelled("the scan was cancelled during the sandbox run")
                    with timings.stage("detect"):  # while the run's dropped files can be read
                        files = ImageFiles(rootfs)
                        view = run_view(run, image.config, files, files.sizes())
                        detection = detect(view, static.findings, options.static.extra_rules_dir)
                        findings, failures = list(detection.findings), detection.failures
                    if options.artifacts_dir is not None:
                        with timings.stage("record"):
                            kept, omitted = kept_image_files(view)
                            record = RunRecord(
                                image=_image_info(target, image, rootfs),
                                config=image.config,
                                static_findings=static.findings,
                                static_iocs=static.iocs,
                                result=run,
                                summary=_run_summary(run, options),
                                image_files=kept,
                                image_files_omitted=omitted,
                                image_sizes=dict(view.image_sizes_read),
                                ruleset_hash=_ruleset_hash(options),
                                tool_version=__version__,
                                recorded_at=clock().isoformat(timespec="seconds"),
                            )
                            write_run_record(record, record_path(run))
                iocs = iocs.merged(runtime_iocs(run.events))
        except DetonateError as exc:
            error = StageError(exc.stage, type(exc).__name__, exc.message, exc.hint)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM during the run: torn down, reported
            stage = timings.current
            error = StageError(stage, "Interrupted", f"interrupted (Ctrl-C or SIGTERM) in {stage}")
    _keep_cache_within(options)

    return _report(
        image=_image_info(target, image, rootfs),
        findings=findings,
        suppressions=suppressions,
        failures=failures,
        rules_hash=_ruleset_hash(options),
        iocs=iocs,
        run=run,
        summary=_run_summary(run, options) if run else RunSummary(),
        error=error,
        timings=tuple(timings.done),
        clock=clock,
    )


def rejudge(
    run_dir: Path,
    rules_dir: Path | None = None,
    ignore_file: Path | None = None,
    clock: Clock = utc_now,
) -> Report:
    """A recorded run judged again by today's detectors, rules and verdict: `run_dir` is a
    run's directory in a scan's artifacts (or its run-record.json.gz, or an artifacts
    directory with one run). The static findings are the recorded ones; the report carries
    the hash of the rules that judged it now. Raises RunRecordError for a missing, corrupt or
    newer record, RuleError for rules that do not load."""
    suppressions = load_suppressions(ignore_file) if ignore_file else ()
    record = load_run_record(find_run_record(run_dir))
    if missing := missing_artifacts(record):
        raise RunRecordError(
            f"the run's copies of {len(missing)} dropped files are missing "
            f"(first: {missing[0]}) from {record.result.artifacts_dir}",
            "rejudge the run directory as the scan left it",
        )
    timings = _Timings()
    with timings.stage("detect"):
        detection = detect(record.view(), record.static_findings, rules_dir)
    return _report(
        image=record.image,
        findings=list(detection.findings),
        suppressions=suppressions,
        failures=detection.failures,
        rules_hash=ruleset_hash(rules_dir),
        iocs=record.static_iocs.merged(runtime_iocs(record.result.events)),
        run=record.result,
        summary=record.summary,
        error=None,
        timings=tuple(timings.done),
        clock=clock,
    )


def _report(
    *,
    image: ImageInfo,
    findings: list[Finding],
    suppressions: tuple[Suppression, ...],
    failures: tuple[DetectorFailure, ...],
    rules_hash: str,
    iocs: Iocs,
    run: RunResult | None,
    summary: RunSummary,
    error: StageError | None,
    timings: tuple[StageTiming, ...],
    clock: Clock,
) -> Report:
    """Suppress, score and judge the findings, and assemble the report."""
    judged = apply_suppressions(findings, suppressions)
    kept = sorted(judged.kept, key=lambda f: (f.rule_id, f.evidence[0].path if f.evidence else ""))
    points, verdict = judge(kept)
    return Report(
        image=image,
        verdict=Verdict.ERROR if error else verdict,
        score=points,
        findings=tuple(kept),
        suppressed=judged.suppressed,
        detector_failures=failures,
        ruleset_hash=rules_hash,
        attack_version=attack_version(),
        iocs=iocs,
        processes=run.processes if run else (),
        network=network_section(run.events) if run else {},
        files=run.files if run else (),
        events=tuple(event_record(e) for e in run.events[:MAX_REPORTED_EVENTS]) if run else (),
        honeytokens=run.honeytokens if run else (),
        run=summary,
        error=error,
        timings=timings,
        generated_at=clock().isoformat(timespec="seconds"),
        tool_version=__version__,
    )
