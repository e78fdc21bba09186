"""`detonate honeypot` (a Docker API that attackers use) and `detonate report` (the threat
report over a time window), both on the store."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detonate.errors import UsageError
from detonate.model.options import default_cache_dir

if TYPE_CHECKING:
    from detonate.honeypot.server import Honeypot

REPORT_FORMATS = ("json", "md", "html", "stix", "misp")


def _ports(text: str) -> tuple[int, ...]:
    # "2375,4243" → (2375, 4243); "none" → ()
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        ports = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"ports are numbers separated by commas: {text}") from None
    if any(not 0 <= port < 65536 for port in ports):
        raise argparse.ArgumentTypeError(f"a port is between 0 and 65535: {text}")
    return ports


def moment(text: str) -> datetime:
    # 2026-12-01, 2026-12-01T08:00, 2026-12-01T08:00:00+00:00 (naive means UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    from detonate.honeypot.server import HoneypotSettings

    pot = commands.add_parser(
        "honeypot",
        help="run a Docker Engine API honeypot (expose it deliberately: see docs/honeypot.md)",
    )
    pot.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    pot.add_argument("--ports", type=_ports, default=(2375, 4243), help="plain HTTP ports")
    pot.add_argument(
        "--tls-ports", type=_ports, default=(), help="TLS ports, e.g. 2376 (needs --tls-cert)"
    )
    pot.add_argument("--tls-cert", type=Path)
    pot.add_argument("--tls-key", type=Path)
    pot.add_argument("--name", default=HoneypotSettings.name, help="this honeypot's name")
    pot.add_argument("--db", metavar="URL", help="store URL (default sqlite in --cache-dir)")
    pot.add_argument("--cache-dir", type=Path, default=None)
    pot.add_argument(
        "--session-window",
        type=float,
        default=HoneypotSettings.session_window_seconds,
        metavar="SECONDS",
        help="silence after which a source's next request starts a new session",
    )
    pot.add_argument(
        "--max-body", type=int, default=HoneypotSettings.max_body_bytes, metavar="BYTES"
    )

    worker = commands.add_parser(
        "honeypot-worker", help="detonate the scans honeypots queued (a separate process)"
    )
    worker.add_argument("--db", metavar="URL", help="store URL (default sqlite in --cache-dir)")
    worker.add_argument("--cache-dir", type=Path, default=None)
    worker.add_argument("--timeout", type=int, default=60, metavar="SECONDS", help="per run")
    worker.add_argument("--poll", type=float, default=5.0, metavar="SECONDS")
    worker.add_argument(
        "--allow-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also pull attackers' images from this registry (default: docker.io only)",
    )
    worker.add_argument(
        "--unsafe-skip-tls-verify",
        action="store_true",
        help="accept untrusted TLS and plain HTTP registries (local registries only)",
    )

    report = commands.add_parser("report", help="threat report over a time window, from the store")
    report.add_argument("--since", type=moment, help="ISO date or time (default: 30 days ago)")
    report.add_argument("--until", type=moment, help="ISO date or time (default: now)")
    report.add_argument("--format", choices=REPORT_FORMATS, default="md")
    report.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    report.add_argument("--db", metavar="URL", help="store URL (default sqlite in --cache-dir)")
    report.add_argument("--cache-dir", type=Path, default=None)


def _store_url(args: argparse.Namespace) -> str:
    from detonate.store import default_url

    return str(args.db or default_url(args.cache_dir or default_cache_dir()))


def run_honeypot(args: argparse.Namespace) -> int:
    from detonate.honeypot.server import Honeypot, HoneypotSettings
    from detonate.store import Store

    if args.tls_ports and (args.tls_cert is None or args.tls_key is None):
        raise UsageError("--tls-ports needs --tls-cert and --tls-key")
    settings = HoneypotSettings(
        host=args.host,
        ports=args.ports,
        tls_ports=args.tls_ports,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        name=args.name,
        session_window_seconds=args.session_window,
        max_body_bytes=args.max_body,
    )
    store = Store.open(_store_url(args))
    try:
        asyncio.run(_serve_until_stopped(Honeypot(store, settings), _to_stderr))
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _serve_until_stopped(honeypot: Honeypot, announce: Callable[[str], None]) -> None:
    """SIGTERM (systemd, Kubernetes) and SIGINT end the serving the same way: the listeners
    close and the requests answered so far are written to the store (`Honeypot.stop`). By
    default SIGTERM killed the process with them still in the write-behind queue, and SIGINT
    did nothing at all when the process started with it ignored (a background job)."""
    serving = asyncio.ensure_future(honeypot.serve(announce))
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, serving.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await serving


def run_honeypot_worker(args: argparse.Namespace) -> int:
    from detonate.honeypot.worker import serve_queue
    from detonate.model.options import AcquireOptions, SandboxOptions, ScanOptions
    from detonate.sandbox.session import keep_simulators_ahead
    from detonate.store import Store

    keep_simulators_ahead()  # it scans one deployment after another
    options = ScanOptions(
        cache_dir=args.cache_dir or default_cache_dir(),
        acquire=AcquireOptions(tls_verify=not args.unsafe_skip_tls_verify),
        sandbox=SandboxOptions(timeout_seconds=args.timeout),
    )
    store = Store.open(_store_url(args))
    registries = ("docker.io", *args.allow_registry)
    try:
        _work_until_stopped(lambda stop: serve_queue(store, options, stop, args.poll, registries))
    finally:
        store.close()
    return 0


def _work_until_stopped(work: Callable[[threading.Event], None]) -> None:
    """SIGTERM (systemd, Kubernetes) and SIGINT stop the worker the same way: the scan it runs
    is cancelled (its sandbox torn down within a poll) and goes back to the queue, and the loop
    ends. The work runs in a thread so that both signals reach this one as a flag: in the main
    thread the sandbox turns them into an interrupt, which failed the scan instead (and SIGTERM
    used to kill the process with its scan left "running")."""
    stop = threading.Event()
    failed: list[BaseException] = []

    def stopping(signum: int, _frame: object) -> None:
        if not stop.is_set():
            _to_stderr(
                f"{signal.Signals(signum).name}: stopping; a running scan goes back to the queue"
            )
        stop.set()

    def run() -> None:
        try:
            work(stop)
        except BaseException as error:  # raised again in the main thread, as if run there
            failed.append(error)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopping)
    worker = threading.Thread(target=run, name="honeypot-worker")
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
    if failed:
        raise failed[0]


def run_report(args: argparse.Namespace) -> int:
    from detonate.intel import render
    from detonate.intel.figures import gather
    from detonate.store import Store

    until = args.until or datetime.now(UTC)
    since = args.since or until - timedelta(days=30)
    if since >= until:
        raise UsageError("--since must be before --until")
    store = Store.open(_store_url(args))
    try:
        if args.format == "stix":
            from detonate.intel.stix_export import bundle

            text = bundle(store, since, until)
        elif args.format == "misp":
            from detonate.intel.misp_export import event

            text = event(store, since, until)
        else:
            text = render.render(gather(store, since, until), args.format)
    finally:
        store.close()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0
