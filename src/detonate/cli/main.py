"""`detonate image REF …`: a thin adapter over `pipeline.scan`; `detonate serve` runs the
service (detonate.service), `detonate token create NAME` makes an API token, `detonate cache
stats|prune` shows and bounds the cache. `detonate rejudge RUN_DIR` judges a recorded run
again (`pipeline.rejudge`).

Exit codes: 0 when the verdict is below `--fail-on`, 1 at or above it, 2 for usage errors and
scans that ended in `verdict: error`.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from detonate import __version__
from detonate.cache.prune import cache_stats, parse_bytes, parse_duration, prune
from detonate.cli import intel_commands
from detonate.cli.progress_bar import RichProgress
from detonate.errors import DetonateError, UsageError
from detonate.model.image import Platform
from detonate.model.options import (
    AcquireOptions,
    SandboxOptions,
    ScanOptions,
    StaticOptions,
    UnpackLimits,
    default_cache_dir,
)
from detonate.model.report import Report, Verdict
from detonate.pipeline import rejudge, scan
from detonate.report import html, ioc_export, json_report, sarif, table
from detonate.unpack.limits import flag_for
from detonate.verdict.suppress import find_ignore_file

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
FAIL_ON = {
    "malicious": {Verdict.MALICIOUS},
    "suspicious": {Verdict.MALICIOUS, Verdict.SUSPICIOUS},
    "never": set(),
}
FORMATS = ("table", "json", "sarif", "html")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main` stays the one place that exits."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="detonate",
        description="Dynamic threat analysis for container images: scan an image, run the "
        "scan service, its fleet of workers, a Docker API honeypot, and their reports.",
    )
    parser.add_argument("--version", action="version", version=f"detonate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    image = commands.add_parser("image", help="scan a container image")
    image.add_argument(
        "reference",
        metavar="REF",
        help="docker://…, docker-archive:…, oci:…, oci-archive:…, or name[:tag|@digest]",
    )
    out = _add_output_options(image)
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    run = image.add_argument_group("analysis")
    run.add_argument("--static-only", action="store_true", help="do not run the image")
    run.add_argument("--timeout", type=_positive, default=60, metavar="SECONDS")
    run.add_argument(
        "--artifacts", type=Path, help="keep the run's trace, output and dropped files here"
    )
    run.add_argument(
        "--idle",
        type=_positive,
        default=SandboxOptions().idle_seconds,
        metavar="SECONDS",
        help="end the run once the sample has been idle this long (every thread blocked, "
        "no timed wait pending)",
    )
    run.add_argument(
        "--memory",
        type=_positive,
        default=SandboxOptions().memory_bytes,
        metavar="BYTES",
        help="memory limit of the sandbox",
    )
    run.add_argument(
        "--pids", type=_positive, default=SandboxOptions().pids, help="process limit of the sandbox"
    )
    run.add_argument(
        "--cpus",
        type=float,
        default=SandboxOptions().cpus,
        help="CPU quota of the sandbox, in CPUs",
    )
    run.add_argument(
        "--disk",
        type=_positive,
        default=SandboxOptions().disk_bytes,
        metavar="BYTES",
        help="size of the sandbox's writable layer",
    )
    run.add_argument("--entrypoint", help="override the image entrypoint (a shell-split string)")
    run.add_argument("--cmd", help="override the image cmd (a shell-split string)")
    run.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment variable for the run (repeatable)",
    )
    run.add_argument("--cache-dir", type=Path, default=None, help=f"default {default_cache_dir()}")
    run.add_argument(
        "--cache-max-bytes",
        type=_size,
        default=ScanOptions().cache_max_bytes,
        metavar="SIZE",
        help="after the scan, evict least recently used layers and blobs past this size "
        "(e.g. 20G; 0: never; default 20G)",
    )
    run.add_argument("--platform", default="linux/amd64", help="for multi-arch images")
    run.add_argument(
        "--store",
        metavar="URL",
        help="also record the scan in this store (sqlite:///PATH or postgresql://…)",
    )
    reg = image.add_argument_group("registry")
    reg.add_argument("--authfile", type=Path, help="auth file (default: the standard ones)")
    reg.add_argument("--creds", default="", help="USER:PASSWORD for the registry")
    reg.add_argument(
        "--unsafe-skip-tls-verify",
        action="store_true",
        help="accept untrusted TLS and plain HTTP registries (local registries only)",
    )
    _add_rejudge(commands)
    _add_cache_commands(commands)
    limits = image.add_argument_group("unpack limits (against bombs and hostile layers)")
    for field in dataclasses.fields(UnpackLimits):
        limits.add_argument(
            flag_for(field.name),
            type=_positive,
            default=field.default,
            metavar="N",
            help=f"default {field.default:,}",
        )
    _add_serve(commands)
    _add_token(commands)
    intel_commands.add_commands(commands)
    _add_worker(commands)
    _add_fleet(commands)
    return parser


def _add_output_options(command: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    out = command.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="table")
    out.add_argument("--output", "-o", type=Path, help="write the report here (default stdout)")
    out.add_argument("--json-report", type=Path, help="also write the JSON report to this file")
    out.add_argument(
        "--iocs", type=Path, help="export IOCs: STIX 2.1 bundle for *.json, CSV otherwise"
    )
    out.add_argument(
        "--ignore-file",
        type=Path,
        help="suppressions by rule id, path or process (default: ./.detonateignore if present)",
    )
    out.add_argument("--fail-on", choices=tuple(FAIL_ON), default="malicious")
    return out


def _add_rejudge(commands: argparse._SubParsersAction[_Parser]) -> None:
    rejudge_ = commands.add_parser(
        "rejudge",
        help="judge a recorded run, or the store's scans, again with today's rules (no new run)",
        description="Judge a run recorded by `detonate image REF --artifacts DIR` again with "
        "the current detectors and rules, plus --rules: same events, new findings and verdict. "
        "With --db, the store's scans that other rules judged: each new verdict replaces the "
        "current one (the old one stays in the scan's history), and the changes are listed.",
    )
    rejudge_.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        type=Path,
        nargs="?",
        help="a run's directory under the scan's --artifacts DIR (or its run-record.json.gz; "
        "or DIR itself when it holds one run)",
    )
    rejudge_.add_argument(
        "--rules", type=Path, metavar="DIR", help="more runtime rules, as in extra_rules_dir"
    )
    stored = rejudge_.add_argument_group("the store's scans")
    stored.add_argument(
        "--db", "--store", dest="db", metavar="URL", help="re-judge the scans of this store"
    )
    stored.add_argument(
        "--all",
        action="store_true",
        help="every done full scan, not only those other rules judged (e.g. after an upgrade)",
    )
    stored.add_argument(
        "--since",
        type=intel_commands.moment,
        metavar="WHEN",
        help="only scans finished since (ISO date/time)",
    )
    stored.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_output_options(rejudge_)


def _add_serve(commands: argparse._SubParsersAction[_Parser]) -> None:
    from detonate.service.settings import Settings

    serve = commands.add_parser("serve", help="run the scan service (REST API, workers)")
    serve.add_argument("--host", default=Settings.host)
    serve.add_argument("--port", type=_positive, default=Settings.port)
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate (chain) for HTTPS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--db", metavar="URL", help="store URL (default sqlite in --cache-dir)")
    serve.add_argument(
        "--concurrency", type=_positive, help="scans at once (default: one per two cores)"
    )
    serve.add_argument(
        "--cache-dir", type=Path, default=None, help=f"default {default_cache_dir()}"
    )
    serve.add_argument(
        "--profile",
        choices=("full", "static"),
        default="full",
        help="what a request that names none gets (static: no sandbox run)",
    )
    serve.add_argument("--timeout", type=_positive, default=60, metavar="SECONDS")
    serve.add_argument(
        "--max-body", type=_positive, default=Settings.max_body_bytes, metavar="BYTES"
    )
    serve.add_argument("--metrics-need-token", action="store_true")
    _add_rules_options(serve)
    serve.add_argument(
        "--queue",
        metavar="URL",
        help="send scans to `detonate worker`s over Redis (redis://HOST:PORT/DB); "
        "default: workers in this process",
    )
    serve.add_argument(
        "--unsafe-skip-tls-verify",
        action="store_true",
        help="accept untrusted TLS and plain HTTP registries (local registries only)",
    )
    hooks = serve.add_argument_group("registry webhooks (docs/integrations.md)")
    hooks.add_argument(
        "--hook-secret",
        action="append",
        default=[],
        metavar="SENDER=SECRET",
        help="switch on /hooks/SENDER (distribution, harbor, ghcr, dockerhub) with its shared "
        "secret; prefer --hook-secret-file or DETONATE_HOOK_SECRET_<SENDER>: argv is public",
    )
    hooks.add_argument(
        "--hook-secret-file",
        type=Path,
        metavar="DIR",
        help="a directory with one file per sender, named after it, holding its secret",
    )
    admission = serve.add_argument_group("kubernetes admission (/k8s/validate)")
    admission.add_argument(
        "--admission-unknown",
        choices=("warn", "deny", "allow"),
        default="warn",
        help="images without a verdict: allow with a warning and queue a scan (default), "
        "deny and queue, or allow silently",
    )
    admission.add_argument(
        "--admission-deny-suspicious",
        action="store_true",
        help="deny suspicious images too (default: allow with a warning)",
    )
    admission.add_argument(
        "--admission-exempt-namespace",
        action="append",
        default=[],
        metavar="NAMESPACE",
        help="never judge this namespace (repeatable)",
    )
    admission.add_argument(
        "--admission-lookup-timeout",
        type=_positive,
        default=2,
        metavar="SECONDS",
        help="longest registry lookup of a tag's digest during a review (then: unknown)",
    )


def _add_token(commands: argparse._SubParsersAction[_Parser]) -> None:
    token = commands.add_parser("token", help="API tokens of the service")
    actions = token.add_subparsers(dest="action", required=True, parser_class=_Parser)
    create = actions.add_parser("create", help="make a token; it is printed once")
    create.add_argument("name")
    create.add_argument("--db", metavar="URL", help="store URL (default sqlite in --cache-dir)")
    create.add_argument("--cache-dir", type=Path, default=None)


def _add_worker(commands: argparse._SubParsersAction[_Parser]) -> None:
    worker = commands.add_parser("worker", help="run a fleet worker (Celery on Redis)")
    worker.add_argument("--queue", metavar="URL", required=True, help="redis://HOST:PORT/DB")
    worker.add_argument("--db", metavar="URL", help="store URL (default sqlite in --cache-dir)")
    worker.add_argument("--cache-dir", type=Path, default=None)
    worker.add_argument("--concurrency", type=_positive, default=1, help="scans at once")
    worker.add_argument("--timeout", type=_positive, default=60, metavar="SECONDS")
    worker.add_argument(
        "--queues",
        default="detonate.urgent,detonate.backlog",
        help="queues to take from, first first",
    )
    worker.add_argument("--name", default="", help="worker name (default detonate@HOST)")
    worker.add_argument(
        "--registry-limit",
        type=int,
        default=2,
        metavar="N",
        help="scans of one registry at once across the fleet (0: no limit); default 2",
    )
    worker.add_argument(
        "--scan-lease",
        type=_positive_rate,
        default=60.0,
        metavar="SECONDS",
        help="a running scan's lease: a scan whose worker died unseen runs again within "
        "about 1.5 times this (default 60)",
    )
    worker.add_argument(
        "--state-dir", type=Path, default=Path("/run/detonate"), help=argparse.SUPPRESS
    )
    worker.add_argument("--unsafe-skip-tls-verify", action="store_true")
    _add_rules_options(worker)


def _add_rules_options(command: argparse.ArgumentParser) -> None:
    rules = command.add_argument_group("rules and re-judging the stored scans")
    rules.add_argument(
        "--rules", type=Path, metavar="DIR", help="more rules the scans use (extra_rules_dir)"
    )
    rules.add_argument(
        "--no-background-rejudge",
        dest="background_rejudge",
        action="store_false",
        help="do not re-judge stored scans other rules judged when starting "
        "(`detonate rejudge --db` still can)",
    )
    rules.add_argument(
        "--rejudge-per-second",
        type=_positive_rate,
        default=2.0,
        metavar="N",
        help="the background rejudge's most scans a second (default 2)",
    )


def _positive_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def _add_fleet(commands: argparse._SubParsersAction[_Parser]) -> None:
    fleet = commands.add_parser("fleet", help="the fleet of workers")
    actions = fleet.add_subparsers(dest="action", required=True, parser_class=_Parser)
    status = actions.add_parser("status", help="workers, queue depths, running and oldest scans")
    status.add_argument("--queue", metavar="URL", required=True, help="redis://HOST:PORT/DB")
    status.add_argument("--db", metavar="URL", help="store URL (default sqlite in --cache-dir)")
    status.add_argument("--cache-dir", type=Path, default=None)


def _worker(args: argparse.Namespace) -> int:
    from detonate.worker.app import QUEUES, FleetConfig, check_broker_url
    from detonate.worker.run import run_worker

    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown or not queues:
        raise UsageError(f"unknown queues {unknown}", f"choose from {', '.join(QUEUES)}")
    cache_dir = args.cache_dir or default_cache_dir()
    tls_verify = not args.unsafe_skip_tls_verify
    config = FleetConfig(
        broker_url=check_broker_url(args.queue),
        store_url=_store_url(args),
        scan=ScanOptions(
            cache_dir=cache_dir,
            acquire=AcquireOptions(tls_verify=tls_verify),
            static=StaticOptions(extra_rules_dir=args.rules),
            sandbox=SandboxOptions(timeout_seconds=args.timeout),
        ),
        state_dir=args.state_dir,
        registry_limit=max(0, args.registry_limit),
        background_rejudge=args.background_rejudge,
        rejudge_per_second=args.rejudge_per_second,
        scan_lease_seconds=args.scan_lease,
    )
    run_worker(config, args.concurrency, queues, args.name)
    return EXIT_OK


def _fleet(args: argparse.Namespace) -> int:
    from detonate.store import Store
    from detonate.worker.app import check_broker_url
    from detonate.worker.status import fleet_status, render

    store = Store.open(_store_url(args))
    try:
        print(render(fleet_status(store, check_broker_url(args.queue))))
    finally:
        store.close()
    return EXIT_OK


def _store_url(args: argparse.Namespace) -> str:
    from detonate.store import default_url

    return str(args.db or default_url(args.cache_dir or default_cache_dir()))


def _hook_secrets(pairs: list[str], directory: Path | None) -> dict[str, str]:
    """--hook-secret pairs, then DETONATE_HOOK_SECRET_<SENDER>, then files in the directory."""
    import os

    from detonate.service.registry_events import PARSERS

    secrets: dict[str, str] = {}
    for pair in pairs:
        sender, equals, secret = pair.partition("=")
        if not equals or sender not in PARSERS or not secret:
            raise UsageError(
                f"bad --hook-secret {sender!r}",
                f"write SENDER=SECRET, SENDER one of {', '.join(PARSERS)}",
            )
        secrets[sender] = secret
    for sender in PARSERS:
        if value := os.environ.get(f"DETONATE_HOOK_SECRET_{sender.upper()}", "").strip():
            secrets.setdefault(sender, value)
        if directory is not None and (directory / sender).is_file():
            secrets.setdefault(sender, (directory / sender).read_text().strip())
    return secrets


def _serve(args: argparse.Namespace) -> int:
    from detonate.admission.policy import AdmissionPolicy, UnknownPolicy
    from detonate.service.serve import serve
    from detonate.service.settings import Settings

    cache_dir = args.cache_dir or default_cache_dir()
    settings = Settings(
        cache_dir=cache_dir,
        db_url=_store_url(args),
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        concurrency=args.concurrency or 0,
        max_body_bytes=args.max_body,
        profile=args.profile,
        registry_tls_verify=not args.unsafe_skip_tls_verify,
        metrics_need_token=args.metrics_need_token,
        hook_secrets=_hook_secrets(args.hook_secret, args.hook_secret_file),
        admission=AdmissionPolicy(
            unknown=UnknownPolicy(args.admission_unknown),
            deny_suspicious=args.admission_deny_suspicious,
            exempt_namespaces=frozenset(args.admission_exempt_namespace),
        ),
        admission_lookup_seconds=args.admission_lookup_timeout,
        queue_url=args.queue or "",
        background_rejudge=args.background_rejudge,
        rejudge_per_second=args.rejudge_per_second,
        scan=ScanOptions(
            cache_dir=cache_dir,
            acquire=AcquireOptions(tls_verify=not args.unsafe_skip_tls_verify),
            static=StaticOptions(extra_rules_dir=args.rules),
            sandbox=SandboxOptions(timeout_seconds=args.timeout),
        ),
    )
    serve(settings)
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    from detonate.store import Store

    store = Store.open(_store_url(args))
    try:
        print(store.create_token(args.name))
    finally:
        store.close()
    return EXIT_OK


def _record(url: str, args: argparse.Namespace, report: Report) -> None:
    """`--store URL`: the CLI's scan goes into the store like a service scan (source cli)."""
    from detonate.acquire.reference import parse_reference
    from detonate.store import Source, Store

    if not report.image.digest:
        return  # nothing to key it by: the scan failed before the image was read
    store = Store.open(url)
    try:
        record, _ = store.request_scan(
            report.image.reference,
            digest=report.image.digest,
            platform=report.image.platform,
            source=Source.CLI,
            profile="static" if args.static_only else "full",
            ruleset=report.ruleset_hash or None,  # the rules that judged it (--rules too)
        )
        if record.active:  # a service worker may hold it; ours is just as good
            store.mark_running(record.id)
        store.record_report(record.id, report)
        ref = parse_reference(args.reference)
        if ref.transport == "docker" and ref.tag:
            store.observe_tag(ref.repository, ref.tag, report.image.digest, Source.CLI)
    finally:
        store.close()


def _size(text: str) -> int:
    try:
        return parse_bytes(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _add_cache_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    cache = commands.add_parser("cache", help="show or prune the cache (layers, blobs)")
    actions = cache.add_subparsers(dest="cache_command", required=True, parser_class=_Parser)
    stats = actions.add_parser("stats", help="layers, blobs, bytes, hit rate, last uses")
    prune_ = actions.add_parser(
        "prune", help="evict least recently used entries no running scan uses"
    )
    prune_.add_argument("--max-bytes", type=_size, metavar="SIZE", help="e.g. 10G")
    prune_.add_argument(
        "--older-than", type=_duration, metavar="AGE", help="not used for this long: 7d, 12h"
    )
    for sub in (stats, prune_):
        sub.add_argument(
            "--cache-dir", type=Path, default=None, help=f"default {default_cache_dir()}"
        )


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


def _cache_command(args: argparse.Namespace, out: Console) -> int:
    cache_dir = args.cache_dir or default_cache_dir()
    if args.cache_command == "stats":
        stats = cache_stats(cache_dir)
        out.print(f"cache {cache_dir}: {stats.bytes:,} bytes")
        for root in stats.roots:
            out.print(
                f"  {root.name:<7} {root.items:>6} entries {root.bytes:>16,} bytes  "
                f"oldest use {_when(root.oldest_use)}  newest use {_when(root.newest_use)}",
                highlight=False,
            )
        rate = stats.hit_rate
        shown = f"{rate:.0%}" if rate is not None else "-"
        out.print(
            f"  layer hits {stats.layer_hits}, misses {stats.layer_misses}, hit rate {shown}",
            highlight=False,
        )
        return EXIT_OK
    if args.max_bytes is None and args.older_than is None:
        raise UsageError("say what to prune", hint="--max-bytes SIZE and/or --older-than AGE")
    result = prune(cache_dir, max_bytes=args.max_bytes, older_than=args.older_than)
    out.print(
        f"removed {len(result.removed)} entries ({result.freed:,} bytes); "
        f"{result.bytes_after:,} bytes left; {result.kept_in_use} kept for running scans",
        highlight=False,
    )
    return EXIT_OK


def _options(args: argparse.Namespace) -> ScanOptions:
    try:
        platform = Platform.parse(args.platform)
    except ValueError as exc:
        raise UsageError(str(exc), hint="e.g. --platform linux/arm64") from None
    return ScanOptions(
        cache_dir=args.cache_dir or default_cache_dir(),
        cache_max_bytes=args.cache_max_bytes,
        static_only=args.static_only,
        acquire=AcquireOptions(
            platform=platform,
            tls_verify=not args.unsafe_skip_tls_verify,
            auth_file=args.authfile,
            creds=args.creds,
        ),
        unpack=UnpackLimits(
            **{f.name: getattr(args, f.name) for f in dataclasses.fields(UnpackLimits)}
        ),
        artifacts_dir=args.artifacts,
        ignore_file=args.ignore_file or find_ignore_file(Path.cwd()),
        sandbox=SandboxOptions(
            timeout_seconds=args.timeout,
            idle_seconds=args.idle,
            memory_bytes=args.memory,
            pids=args.pids,
            cpus=args.cpus,
            disk_bytes=args.disk,
            entrypoint=tuple(shlex.split(args.entrypoint)) if args.entrypoint is not None else None,
            cmd=tuple(shlex.split(args.cmd)) if args.cmd is not None else None,
            env=tuple(args.env),
        ),
    )


RENDERERS = {"json": json_report.dumps, "sarif": sarif.dumps, "html": html.render}


def _save(path: Path, text: str) -> None:
    # Sample-controlled text may carry undecodable bytes: escape them, never fail the report.
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


def _write(report: Report, args: argparse.Namespace, stdout: Console) -> None:
    if args.json_report:
        _save(args.json_report, json_report.dumps(report))
    if args.iocs:
        export = ioc_export.to_stix if args.iocs.suffix == ".json" else ioc_export.to_csv
        _save(args.iocs, export(report))
    if args.format in RENDERERS:
        text = RENDERERS[args.format](report)
        if args.output:
            _save(args.output, text)
        else:
            sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
            sys.stdout.flush()
    elif args.output:
        with args.output.open("w", encoding="utf-8", errors="backslashreplace") as handle:
            table.render(report, Console(file=handle, width=120, no_color=True))
    else:
        table.render(report, stdout)


def exit_code(verdict: Verdict, fail_on: str) -> int:
    if verdict is Verdict.ERROR:
        return EXIT_ERROR
    return EXIT_FAIL if verdict in FAIL_ON[fail_on] else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    stderr = Console(stderr=True)
    stdout = Console()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "serve":
            return _serve(args)
        if args.command == "token":
            return _token(args)
        if args.command == "cache":
            return _cache_command(args, stdout)
        if args.command == "honeypot":
            return intel_commands.run_honeypot(args)
        if args.command == "report":
            return intel_commands.run_report(args)
        if args.command == "honeypot-worker":
            return intel_commands.run_honeypot_worker(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "fleet":
            return _fleet(args)
        if args.command == "rejudge":
            ignore_file = args.ignore_file or find_ignore_file(Path.cwd())
            if args.db:
                from detonate.cli import rejudge_command

                return rejudge_command.run(args, args.db, ignore_file, stdout, stderr)
            if args.run_dir is None:
                raise UsageError("give RUN_DIR, or --db URL for the store's scans")
            report = rejudge(args.run_dir, args.rules, ignore_file)
            _write(report, args, stdout)
        else:
            options = _options(args)
            show_progress = not args.no_progress and stderr.is_terminal
            with RichProgress(stderr) if show_progress else nullcontext() as progress:
                report = scan(args.reference, options, progress)
            _write(report, args, stdout)
            if args.store:
                _record(args.store, args, report)
    except DetonateError as exc:
        stderr.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            stderr.print(f"[dim]hint:[/] {exc.hint}", highlight=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        stderr.print("[bold red]interrupted[/]")
        return 130
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if report.error:
        stderr.print(
            f"[bold red]error[/] in {report.error.stage}: {report.error.message}", highlight=False
        )
        if report.error.hint:
            stderr.print(f"[dim]hint:[/] {report.error.hint}", highlight=False)
    return exit_code(report.verdict, args.fail_on)


def entry() -> None:
    sys.exit(main())
