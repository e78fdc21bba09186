"""Re-judging the store's runs in the background when `detonate serve` or `detonate worker`
starts with rules other than those that judged the stored scans.

    rejudging = start(store, BackgroundSettings(url, rules_dir), role="serve")  # None: no work
    ...
    rejudging.stop()

`start` (in the starting process) announces its ruleset in the store and, when stored scans
wait for it, starts `python -m detonate.store.background_rejudge`: a process of its own at a
lower CPU priority, so it never holds the service's interpreter nor a scan back, which takes one
scan at a time (`Store.claim_rejudge`: a lease in the store, so replicas and workers sharing
the store never take the same one), judges it as `detonate rejudge --db` does
(`rejudge.judge_one`), marks it done with the outcome, and waits so that it takes at most
`per_second` scans a second. It logs each changed verdict and its progress, and stops when
nothing is left, when a newer ruleset is announced (the last one announced wins: an old
replica never re-judges the store back), on SIGTERM, or when its parent is gone.

Resumable: a scan marked done for a ruleset is never taken again for it, and a scan judged by
it is not a candidate; a restart takes what is left, and a claim of a process that died
lapses after `lease_seconds` and is taken again.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from detonate.errors import DetonateError
from detonate.rules.loader import load_rules, ruleset_hash
from detonate.store.rejudge import Outcome, judge_one
from detonate.store.store import Store

log = logging.getLogger("detonate.rejudge")
DB_ENV = "DETONATE_REJUDGE_DB"  # the store URL reaches the process here: argv is public
BUSY_WAIT_SECONDS = 0.5  # scans wait, yet another process holds the next one's row
FAILURE_WAIT_SECONDS = 10.0
MAX_FAILURES = 5  # store errors in a row before the process gives up (a restart resumes)
NICENESS = 10


@dataclass(frozen=True)
class BackgroundSettings:
    store_url: str
    rules_dir: Path | None = None  # the extra rules the scans use (ScanOptions.static)
    ignore_file: Path | None = None
    per_second: float = 2.0  # at most this many scans re-judged a second
    lease_seconds: float = 300.0  # a claim of a process that died is taken again after this
    progress_seconds: float = 30.0  # a progress line at most this often


class Rejudger:
    """The loop of the background process (run in a thread by tests)."""

    def __init__(
        self,
        store: Store,
        settings: BackgroundSettings,
        owner: str,
        stop: threading.Event | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.store, self.settings, self.owner = store, settings, owner
        self.stop = stop or threading.Event()
        self.parent_pid = parent_pid
        self.outcomes: Counter[Outcome] = Counter()

    def run(self) -> Counter[Outcome]:
        try:
            load_rules("runtime", self.settings.rules_dir)
        except DetonateError as error:
            log.error("background rejudge not started: %s", error.message)
            return self.outcomes
        ruleset = ruleset_hash(self.settings.rules_dir)
        log.info("background rejudge towards ruleset %s started (%s)", ruleset[:12], self.owner)
        last_progress, failures = time.monotonic(), 0
        while not self._should_stop(ruleset):
            started = time.monotonic()
            try:
                busy = self._one(ruleset)
                failures = 0
            except Exception:
                failures += 1
                log.exception("background rejudge: the store failed (%d in a row)", failures)
                if failures >= MAX_FAILURES:
                    log.error("background rejudge gives up; a restart resumes where it stopped")
                    break
                self.stop.wait(FAILURE_WAIT_SECONDS)
                continue
            if busy is None:  # nothing left for this ruleset
                break
            if time.monotonic() - last_progress >= self.settings.progress_seconds:
                self._log_progress(ruleset)
                last_progress = time.monotonic()
            pause = BUSY_WAIT_SECONDS if not busy else 1 / self.settings.per_second
            self.stop.wait(max(0.0, pause - (time.monotonic() - started)))
        self._log_progress(ruleset)
        return self.outcomes

    def _one(self, ruleset: str) -> bool | None:
        """Claim and judge one scan: True when one was judged, False when scans wait but
        another process holds the next one, None when none waits."""
        candidate = self.store.claim_rejudge(ruleset, self.owner, self.settings.lease_seconds)
        if candidate is None:
            progress = self.store.rejudge_progress(ruleset)
            return False if progress is not None and progress.pending else None
        try:
            outcome = judge_one(
                self.store, candidate, self.settings.rules_dir, self.settings.ignore_file, ruleset
            )
        except BaseException:  # stopped mid-way: the next claimer takes it at once
            self.store.release_rejudge(candidate.id, ruleset, self.owner)
            raise
        if not self.store.finish_rejudge(
            candidate.id, ruleset, self.owner, outcome.outcome.value, outcome.reason
        ):
            log.warning("scan %s: the claim lapsed while it was judged", candidate.id)
        self.outcomes[outcome.outcome] += 1
        if outcome.outcome is Outcome.CHANGED:
            log.info(
                "rejudge: scan %s %s %s -> %s",
                candidate.id,
                candidate.reference,
                outcome.before,
                outcome.after,
            )
        elif outcome.outcome is Outcome.NOT_REJUDGED:
            log.warning("rejudge: scan %s not re-judged: %s", candidate.id, outcome.reason)
        return True

    def _should_stop(self, ruleset: str) -> bool:
        if self.stop.is_set():
            return True
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            log.info("background rejudge: the service that started it is gone")
            return True
        latest = self.store.latest_ruleset()
        if latest is not None and latest != ruleset:
            log.info(
                "background rejudge: ruleset %s was announced since; leaving the store to it",
                latest[:12],
            )
            return True
        return False

    def _log_progress(self, ruleset: str) -> None:
        progress = self.store.rejudge_progress(ruleset)
        if progress is None:
            return
        done = ", ".join(f"{n} {outcome}" for outcome, n in sorted(progress.done.items()))
        log.info(
            "background rejudge towards %s: %d scans done (%s), %d taken now, %d to go; "
            "this process: %d",
            ruleset[:12],
            progress.finished,
            done or "none",
            progress.claimed,
            progress.pending,
            sum(self.outcomes.values()),
        )


@dataclass
class BackgroundRejudge:
    """The running background process (see `start`)."""

    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: it finishes the scan it judges, then exits; killed after `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(store: Store, settings: BackgroundSettings, role: str) -> BackgroundRejudge | None:
    """Announce this process's ruleset and, when stored scans wait for it, start the
    background process; None when there is nothing to re-judge, or it could not start (logged:
    the service and the scans go on without it)."""
    try:
        ruleset = ruleset_hash(settings.rules_dir)
        store.announce_ruleset(ruleset, f"{role}@{socket.gethostname()}:{os.getpid()}")
        progress = store.rejudge_progress(ruleset)
        if progress is None or not progress.pending:
            log.info("the stored scans are judged by these rules (ruleset %s)", ruleset[:12])
            return None
        log.info(
            "%d stored scans were judged by other rules: re-judging them in the background "
            "with ruleset %s, at most %g a second",
            progress.pending,
            ruleset[:12],
            settings.per_second,
        )
        environment = {**os.environ, DB_ENV: settings.store_url}
        argv = _argv(settings, role)
        return BackgroundRejudge(subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=environment))
    except Exception:
        log.exception("the background rejudge could not start; `detonate rejudge --db` can")
        return None


def _argv(settings: BackgroundSettings, role: str) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "detonate.store.background_rejudge",
        "--role",
        role,
        "--parent-pid",
        str(os.getpid()),
        "--per-second",
        str(settings.per_second),
        "--lease-seconds",
        str(settings.lease_seconds),
        "--progress-seconds",
        str(settings.progress_seconds),
    ]
    if settings.rules_dir is not None:
        argv += ["--rules", str(settings.rules_dir)]
    if settings.ignore_file is not None:
        argv += ["--ignore-file", str(settings.ignore_file)]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detonate.store.background_rejudge")
    parser.add_argument("--role", default="rejudge")
    parser.add_argument("--parent-pid", type=int)
    parser.add_argument("--rules", type=Path)
    parser.add_argument("--ignore-file", type=Path)
    parser.add_argument("--per-second", type=float, default=BackgroundSettings.per_second)
    parser.add_argument("--lease-seconds", type=float, default=BackgroundSettings.lease_seconds)
    parser.add_argument(
        "--progress-seconds", type=float, default=BackgroundSettings.progress_seconds
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    url = os.environ.get(DB_ENV, "")
    if not url or args.per_second <= 0:
        parser.error(f"give the store URL in {DB_ENV} and a positive --per-second")
    os.nice(NICENESS)  # scans and requests first
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    settings = BackgroundSettings(
        url,
        args.rules,
        args.ignore_file,
        args.per_second,
        args.lease_seconds,
        args.progress_seconds,
    )
    store = Store.open(url, upgrade=False)  # the parent upgraded it
    try:
        owner = f"{args.role}@{socket.gethostname()}:{os.getpid()}"
        Rejudger(store, settings, owner, stop, args.parent_pid).run()
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
