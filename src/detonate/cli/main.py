"""`detonate image REF …`: a thin adapter over `pipeline.scan`.

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
from pathlib import Path

from rich.console import Console

from detonate import __version__
from detonate.cli.progress_bar import RichProgress
from detonate.errors import DetonateError, UsageError
from detonate.model.image import Platform
from detonate.model.options import (
    AcquireOptions,
    SandboxOptions,
    ScanOptions,
    UnpackLimits,
    default_cache_dir,
)
from detonate.model.report import Report, Verdict
from detonate.pipeline import scan
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
    parser = _Parser(prog="detonate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"detonate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    image = commands.add_parser("image", help="scan a container image")
    image.add_argument(
        "reference",
        metavar="REF",
        help="docker://…, docker-archive:…, oci:…, oci-archive:…, or name[:tag|@digest]",
    )
    out = image.add_argument_group("output")
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
    run.add_argument("--platform", default="linux/amd64", help="for multi-arch images")
    reg = image.add_argument_group("registry")
    reg.add_argument("--authfile", type=Path, help="auth file (default: the standard ones)")
    reg.add_argument("--creds", default="", help="USER:PASSWORD for the registry")
    reg.add_argument(
        "--unsafe-skip-tls-verify",
        action="store_true",
        help="accept untrusted TLS and plain HTTP registries (local registries only)",
    )
    limits = image.add_argument_group("unpack limits (against bombs and hostile layers)")
    for field in dataclasses.fields(UnpackLimits):
        limits.add_argument(
            flag_for(field.name),
            type=_positive,
            default=field.default,
            metavar="N",
            help=f"default {field.default:,}",
        )
    return parser


def _options(args: argparse.Namespace) -> ScanOptions:
    try:
        platform = Platform.parse(args.platform)
    except ValueError as exc:
        raise UsageError(str(exc), hint="e.g. --platform linux/arm64") from None
    return ScanOptions(
        cache_dir=args.cache_dir or default_cache_dir(),
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
        options = _options(args)
        show_progress = not args.no_progress and stderr.is_terminal
        with RichProgress(stderr) if show_progress else nullcontext() as progress:
            report = scan(args.reference, options, progress)
        _write(report, args, stdout)
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
