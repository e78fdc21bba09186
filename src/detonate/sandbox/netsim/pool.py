"""Simulators started ahead of the runs that will use them.

A scan asks for one when it begins (`warm`), so the services start while the image is pulled,
unpacked and scanned; its sandbox stage then `take`s it, started, instead of waiting a second
for a Python process to start. Each simulator is handed out once, to one run, which closes it as
it would close its own; nothing is ever returned to the pool.

A rescan of a cached image reaches its sandbox a few hundredths of a second after it began:
too soon for the one it warmed. A process that runs scan after scan (the service's queue, the
honeypot worker) therefore keeps simulators ahead (`keep_ahead`): once a run is over
(`refill`), the pool starts the next scan's, so that scan takes one that is ready. At most
`keep_ahead` (≤ MAX_WAITING) wait beyond the scans that announced themselves; a one-shot
process (the CLI) keeps none: it would start one only to kill it. A fleet worker's fresh process
per scan, forked before its task comes, starts its one scan's simulator then (`start_ahead`).

Leftovers: an idle simulator's services exit on their own when the analyser dies (their stdin
closes); its namespace is named after the analyser like any run's, so `cleanup_orphans`
removes it, and its home dir (`detonate-simpool-<pid>-<start>-…` in the temp dir) is removed
by `remove_orphaned_homes`: both are what the analyser's watchdog sweeps the moment it dies
(the pool starts the watchdog before its first simulator), and what the next run sweeps.
`close()` (at exit) removes what is idle or starting.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from detonate.sandbox.leftovers import DEFAULT_STATE_DIR, is_alive, process_start_time
from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.simulator import Simulator
from detonate.sandbox.watchdog import ensure_watchdog

HOME_PREFIX = "detonate-simpool-"
MAX_WAITING = 2  # started ahead and not taken yet: scans that never reached their sandbox
MAX_AGE_SECONDS = 3600.0  # older ones are replaced (a long-lived service; its CA's validity)


class SimulatorPool:
    def __init__(
        self,
        config: NetsimConfig | None = None,
        home: Path | None = None,
        keep_ahead: int = 0,
        watchdog_dir: Path | None = DEFAULT_STATE_DIR,
    ) -> None:
        self._config = config
        self._home = home  # where the simulators live until taken (the temp dir by default)
        self._lock = threading.Lock()
        self._waiting: list[Future[Simulator]] = []
        self._expected = 0  # scans that called warm() and have not taken one yet
        self._keep_ahead = min(keep_ahead, MAX_WAITING)
        self._watchdog_dir = watchdog_dir  # None: the caller sweeps (tests of the sweep)
        self._closed = False
        self._pid = os.getpid()

    def keep_ahead(self, count: int) -> None:
        """Keep `count` (at most MAX_WAITING) simulators ready beyond the scans that asked,
        refilled after each run; 0 stops refilling (those waiting stay until taken or closed)."""
        with self._lock:
            self._keep_ahead = max(0, min(count, MAX_WAITING))

    def warm(self) -> None:
        """A scan begins: start a simulator in the background for its `take`, unless one
        waits for it already (kept ahead, or warmed by a scan that ended before its run)."""
        self._own()
        with self._lock:
            self._expected = min(self._expected + 1, MAX_WAITING)
        self._fill(0)

    def start_ahead(self) -> None:
        """A process that will run one scan soon and is waiting for it (a fleet worker's fresh
        process): start that scan's simulator now; its `warm()` then finds it started."""
        self._own()
        self._fill(1)

    def refill(self) -> None:
        """A run is over: start the simulators kept ahead for the next scans (none unless
        `keep_ahead`). Called after the run, so their start does not slow its set-up."""
        self._own()
        self._fill(self._keep_ahead)

    def waiting(self) -> int:
        """Simulators started (or starting) and not taken."""
        with self._lock:
            return len(self._waiting)

    def _fill(self, ahead: int) -> None:
        starting: list[Future[Simulator]] = []
        with self._lock:
            want = min(MAX_WAITING, self._expected + ahead)
            while not self._closed and len(self._waiting) + len(starting) < want:
                starting.append(Future())
            self._waiting += starting
        for future in starting:
            starter = threading.Thread(target=self._start, args=(future,), name="netsim-warm")
            starter.daemon = True
            starter.start()

    def take(self, run_dir: Path) -> Simulator | None:
        """A started simulator for this caller alone, its dir moved into `run_dir` (once its
        services are ready); None when none was started ahead or it cannot be used (the caller
        makes its own, as without a pool)."""
        self._own()
        with self._lock:
            self._expected = max(0, self._expected - 1)
            future = self._waiting.pop(0) if self._waiting else None
        if future is None:
            return None
        simulator = _result(future)  # waits for a start still under way
        if simulator is None:
            return None
        try:
            if not simulator.alive():
                raise OSError("its services are gone")
            if time.time() - simulator.origin > MAX_AGE_SECONDS:
                raise OSError("waited too long")
            simulator.move_to(run_dir)
        except OSError:
            _discard(simulator)
            return None
        return simulator

    def close(self) -> None:
        """Close every simulator not taken (waits for those still starting)."""
        self._own()
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, []
        for future in waiting:
            simulator = _result(future)
            if simulator is not None:
                _discard(simulator)

    def _own(self) -> None:
        # A forked child (a worker's scan process) has none of its parent's simulators: their
        # processes are the parent's children, and the lock may have been held at the fork.
        if self._pid != os.getpid():
            self._pid, self._lock, self._waiting = os.getpid(), threading.Lock(), []
            self._expected = 0

    def _start(self, future: Future[Simulator]) -> None:
        if self._watchdog_dir is not None:
            # Sweeps this simulator's namespace and home the moment the analyser dies, even
            # when no run of this process has started one yet.
            ensure_watchdog(self._watchdog_dir)
        home = Path(tempfile.mkdtemp(prefix=home_prefix(), dir=self._home))
        simulator = Simulator(home, self._config)
        try:
            # Namespace, firewall and the services' process; the run that takes it waits for
            # them to be ready when it attaches, as it waits for its own, so a scan whose
            # sandbox stage comes quickly takes it at once rather than waiting here.
            simulator.launch()
        except BaseException as exc:  # handed to take(), which makes a fresh one instead
            _discard(simulator)
            future.set_exception(exc)
            return
        future.set_result(simulator)


def _result(future: Future[Simulator]) -> Simulator | None:
    try:
        return future.result()
    except Exception:
        return None


def _discard(simulator: Simulator) -> None:
    simulator.close()
    shutil.rmtree(simulator.directory.parent, ignore_errors=True)


def home_prefix() -> str:
    """`detonate-simpool-<pid>-<start>-`: the owning analyser, as in namespace names."""
    pid = os.getpid()
    return f"{HOME_PREFIX}{pid}-{process_start_time(pid)}-"


def remove_orphaned_homes(where: Path | None = None) -> list[Path]:
    """Removes the home dirs of simulators whose analyser is dead; returns them."""
    removed = []
    base = Path(where or tempfile.gettempdir())
    for home in base.glob(f"{HOME_PREFIX}*"):
        found = re.match(re.escape(HOME_PREFIX) + r"(\d+)-(\d+)-", home.name)
        if found and home.is_dir() and not is_alive(int(found[1]), int(found[2])):
            shutil.rmtree(home, ignore_errors=True)
            removed.append(home)
    return removed
