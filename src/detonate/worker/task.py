"""The scan task: one scan id from the broker → the queue's `run_scan` → the store.

    scan_task.delay(scan_id)        # what CeleryQueue.submit sends (by name)

The store decides what runs: a scan that is not queued any more is skipped (a duplicate
message, a cancelled scan). A message Redis delivers again after its worker died (SIGKILL,
OOM, hard time limit), or a keeper sends again after its lease ran out (scan_leases.py),
finds its scan still "running": unless its lease shows a live holder, that attempt is over, so
the scan is taken over — or poisoned once its worker died POISON_AFTER_DEATHS times, never
retried forever.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import redis
from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import worker_before_create_process, worker_process_init, worker_ready
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers

from detonate.model.options import ScanOptions
from detonate.queue.worker import run_scan
from detonate.rules.loader import load_rules, ruleset_hash
from detonate.sandbox.leftovers import StateDir
from detonate.sandbox.netsim import cleanup_orphans
from detonate.sandbox.netsim.pool import remove_orphaned_homes
from detonate.sandbox.run import in_background
from detonate.sandbox.session import close_simulators, start_simulator_ahead
from detonate.sandbox.watchdog import swept_by_others
from detonate.static.yara_rules import compiled_rules
from detonate.store import ScanStatus, Store
from detonate.store.models import Scan
from detonate.unpack.layer_store import LayerStore
from detonate.worker.app import TASK_NAME, URGENT, app
from detonate.worker.patient_store import PatientStore
from detonate.worker.registry_slots import RegistrySlots, registry_of
from detonate.worker.scan_leases import Holder, ScanLeases
from detonate.worker.warm_store import inherit, rehearse

log = logging.getLogger("detonate.worker")
POISON_AFTER_DEATHS = 2  # a scan whose worker died this often is poisoned, not retried
REGISTRY_WAIT_SECONDS = 5  # for a registry slot, before the task goes back in the queue


@dataclass
class _Process:
    store: Store | None = None
    broker: redis.Redis | None = None
    slots: RegistrySlots | None = None
    leases: ScanLeases | None = None
    sweep: Future[list[str]] | None = None  # the leftovers sweep, on a thread
    opening: Future[Store] | None = None  # the store's opening, on another
    # The scan's timeline in its fresh process (time.monotonic(), shared by parent and child):
    forking: float = 0.0  # the main process is about to fork this process
    sweeping: float = 0.0  # Celery has set the process up; it sweeps leftovers
    swept: float = 0.0  # the sweep is over
    initialised: float = 0.0  # Celery's set-up is over: the process is ready for its task
    opened: float = 0.0  # the store is open
    taken: float = 0.0  # the task came
    waited: float = 0.0  # how long it then waited for the store


_process = _Process()
_warmed: Store | None = None  # the main process's store, its statements compiled (preload)


def sweep_leftovers(state_dir: Path, cache_dir: Path | None = None) -> list[str]:
    """What runs of dead worker processes left on this host: containers, mounts, cgroups,
    tracers, simulator namespaces, their processes and temp dirs, and the layers they were
    unpacking into `cache_dir`. Live runs are left alone."""
    cleaned = StateDir(state_dir).sweep()
    cleaned += cleanup_orphans()
    cleaned += [str(home) for home in remove_orphaned_homes()]  # warm simulators' temp dirs
    if cache_dir is not None:
        LayerStore(cache_dir).remove_work_of_dead()
    _process.swept = time.monotonic()
    return cleaned


def _open_in_child(**_: Any) -> None:
    """Each forked worker process: its own store connection (never one shared across fork),
    the leftovers of the process it replaces swept (`_swept`) and its scan's simulator
    started. This sweep, which the main process starts within 0.1 s of a pool process's
    death (PromptReplacement), is the pool processes' watchdog: they start none of their own.
    The sweep mostly waits for `runc list` and `ip netns`, the store's opening for the
    database: each runs on a thread while the task comes (0.05–0.2 s and 0.02–0.05 s a scan,
    measured on this loaded machine); the task waits for the store before it claims the scan
    and for the sweep at its end. Not in this set-up itself: Celery gives a process 4 s to
    start, and a store that is down is waited for up to PatientStore's patience."""
    conf = app.conf
    _process.store = None
    if _warmed is not None:
        inherit(_warmed)  # a connection pool of its own, before any thread may use it
    _process.sweeping = _process.swept = time.monotonic()
    if conf.get("detonate_store_url"):
        swept_by_others()
        options: ScanOptions = conf["detonate_scan_options"]
        state_dir = conf["detonate_state_dir"]
        _process.sweep = in_background(
            lambda: sweep_leftovers(state_dir, options.cache_dir), "detonate-start-sweep"
        )
        _process.opening = in_background(_store, "detonate-store-open")
        # The scan's simulated internet starts now, while the task comes, rather than when
        # the scan begins: a cached image reaches its sandbox in a few hundredths of a second
        # and waited for it there (0.1-0.15 s a scan more than a warm process, measured).
        # The in-process pool of `detonate serve` keeps one ahead likewise.
        start_simulator_ahead()
    _process.initialised = time.monotonic()


def _swept() -> None:
    """Wait for this process's start-up sweep, at the end of its task. The scan is claimed
    and runs meanwhile: its run sweeps the same dead runs' containers, mounts, cgroups,
    tracers and simulators beside its set-up and waits for that before the sample starts
    (sandbox/run.py, session.py), and every sweep leaves live runs alone; waiting before the
    claim cost 0.05-0.2 s a scan on this loaded machine. A failed sweep is logged, not fatal."""
    sweep, _process.sweep = _process.sweep, None
    if sweep is None:
        return
    try:
        cleaned = sweep.result()
    except Exception:
        log.exception("the sweep of dead runs' leftovers failed")
        return
    if cleaned:
        log.warning("swept leftovers of dead runs: %s", ", ".join(cleaned))


def _forking(**_: Any) -> None:
    """In the main process, before it forks a pool process: the child inherits the time."""
    _process.forking = time.monotonic()


def preload(options: ScanOptions, store: Store | None = None) -> None:
    """In the worker's main process, before it forks: the rules read and the YARA rules
    compiled once (each size class too), so each fresh scan process inherits them instead of
    paying for them per scan (a rule file changed since is still read again: the caches key on
    the files). `store`, the worker's: its statements compiled by a rehearsed scan (rolled
    back, `warm_store`), its connections closed; each scan process uses it (`_store`)."""
    global _warmed
    if store is not None:
        try:
            rehearse(store)
        except SQLAlchemyError as error:  # a warm-up is worth no refusal to start: each scan
            # process then opens the store of its own, as it waits out a store that is down
            log.warning("store statements not warmed before the fork: %s", error)
        else:
            _warmed = store
        store.engine.dispose()  # no connection crosses the fork
    compiled_rules(options.static.extra_rules_dir).compile_size_classes()
    load_rules("runtime")
    ruleset_hash(options.static.extra_rules_dir)
    configure_mappers()  # the store's ORM classes: else on each process's first write, 0.1 s
    # What the simulated internet's first CA imports (cryptography's OpenSSL backend): 0.04 s.
    import_module("cryptography.hazmat.backends.openssl.backend")
    _prepare_pool_start()
    freeze_heap()


def _prepare_pool_start() -> None:
    """Celery's set-up of each pool process sets its parent-death signal through cffi when cffi
    is loaded (our crypto libraries load it; `billiard.util.set_pdeathsig`), and cffi's first
    `cdef` in a process imports pycparser and builds its parser: 0.2 s in every fresh scan
    process, measured. Built here once (cffi keeps it), each process inherits it."""
    try:
        import cffi
    except ImportError:  # billiard then uses ctypes, which costs nothing to start
        return
    cffi.FFI().cdef("int prctl (int __option, ...);")


def freeze_heap(**_: Any) -> None:
    """Move what the worker's main process has built (modules, rules, Celery's own objects) out
    of the garbage collector's reach, before it forks. Celery's pool runs a full `gc.collect()`
    before each fork (celery#2927); with a fresh process per scan that walked the whole heap on
    every scan's critical path (0.2–0.5 s measured on this loaded 2-core machine), and each
    child's own collections wrote to every page it shares with the parent (copy on write).
    Python's advice for pre-forking servers: `gc.freeze()` in the parent before the forks."""
    gc.collect()
    gc.freeze()


def _store() -> Store:
    if _process.store is None:
        url = app.conf["detonate_store_url"]
        if _warmed is not None:  # its statements compiled, its dialect set up: `preload`
            _process.store = PatientStore.adopt(_warmed)
        else:  # the main process upgraded the schema before it forked (`run_worker`)
            _process.store = PatientStore.open(url, upgrade=False)
        _process.opened = time.monotonic()
    return _process.store


def _broker() -> redis.Redis:
    """This process's one Redis client, for registry slots and scan leases alike."""
    if _process.broker is None:
        _process.broker = redis.Redis.from_url(app.conf["broker_url"], socket_timeout=10)
    return _process.broker


def _slots() -> RegistrySlots:
    if _process.slots is None:
        _process.slots = RegistrySlots(_broker(), app.conf["detonate_registry_limit"])
    return _process.slots


def _leases() -> ScanLeases:
    if _process.leases is None:
        _process.leases = ScanLeases(_broker(), app.conf["detonate_scan_lease_seconds"])
    return _process.leases


def reclaim(store: Store, scan_id: str) -> bool:
    """running → queued for a scan whose worker died, so `run_scan` may claim it again."""
    with store.engine.begin() as connection:
        result = connection.execute(
            update(Scan)
            .where(Scan.id == scan_id, Scan.status == ScanStatus.RUNNING.value)
            .values(status=ScanStatus.QUEUED.value, stage="")
        )
    return bool(getattr(result, "rowcount", 0) == 1)


def _lease_holder(leases: ScanLeases, scan_id: str) -> Holder | None:
    """Who holds the scan's lease; None when nobody does, or Redis is away (no lease tells,
    so the store's word stands, as before leases). A live holder keeps its scan unless it is
    provably dead (on this host, its process gone: the pool's own SIGKILLed child, whose
    message came straight back)."""
    try:
        return leases.holder(scan_id)
    except redis.RedisError:
        return None


def poison_reason(attempts: int, stage: str) -> str:
    where = f" (last seen in {stage})" if stage else ""
    return (
        f"the worker process died during each of {attempts} attempts{where}: killed, out of "
        "memory, crashed or over the hard time limit; not retried automatically"
    )


def take(store: Store, scan_id: str, redelivered: bool, leases: ScanLeases | None) -> str:
    """What to do with a delivered scan id: "run", or why not. `redelivered`: Redis or a
    keeper sent it again, so the attempt the store calls running may be over."""
    record = store.get_scan(scan_id)
    if record is None:
        return "unknown scan"
    if record.status is ScanStatus.QUEUED:
        return "run"
    if record.status is not ScanStatus.RUNNING:
        return f"already {record.status.value}"
    if not redelivered:
        return "running in another worker"  # a duplicate message
    holder = _lease_holder(leases, scan_id) if leases is not None else None
    if holder is not None and not holder.dead_here():
        # A duplicate marked redelivered (a resend of a message the registry limit sent back),
        # or a holder on another host that may yet be dead: its keeper-side expiry decides.
        return "running in another worker (its lease is renewed)"
    if record.attempts >= POISON_AFTER_DEATHS:
        store.mark_poisoned(scan_id, poison_reason(record.attempts, record.stage))
        log.error("scan %s poisoned after %d worker deaths", scan_id, record.attempts)
        if holder is not None and leases is not None:  # else a keeper resends it when it ends
            with suppress(redis.RedisError):
                leases.release(holder)
        return "poisoned"
    log.warning("scan %s: its worker died (attempt %d); running it again", scan_id, record.attempts)
    return "run" if reclaim(store, scan_id) else "taken meanwhile"


def _scan(self: Task, scan_id: str, taken_over: bool = False) -> str:
    """`taken_over`: sent again by a keeper (scan_leases.LeaseKeeper), as a redelivery."""
    _process.taken = time.monotonic()
    try:
        return _take_and_run(self, scan_id, taken_over)
    finally:
        # A simulator started ahead and not taken (a static scan, a scan not run here) ends
        # with the task: this process exits without atexit, leaving it to the next's sweep.
        close_simulators()
        _swept()  # long over by now; waited for so that it never outlives the task
        _log_start_up(scan_id)


def _log_start_up(scan_id: str) -> None:
    """Where this fresh process's start went (benchmarks/fleet_bench.py reads the line)."""
    if _process.forking:
        log.info(
            "scan %s in process %d: process start %.3f s, sweep %.3f s, idle %.3f s, "
            "store %.3f s, waited for the store %.3f s; forked at %.3f, ended at %.3f",
            scan_id,
            os.getpid(),
            _process.sweeping - _process.forking,
            _process.swept - _process.sweeping,  # on a thread, from the process's set-up
            _process.taken - _process.initialised,
            _process.opened - _process.sweeping,  # on a thread too
            _process.waited,
            # time.monotonic() is one clock for all processes: a benchmark finds the gap from
            # one scan's end to the fork of the process for the next
            _process.forking,
            time.monotonic(),
        )


def _take_and_run(self: Task, scan_id: str, taken_over: bool) -> str:
    opening, _process.opening = _process.opening, None
    if opening is not None:
        opening.result()  # its error, if the store stayed down past PatientStore's patience
    store = _store()
    _process.waited = time.monotonic() - _process.taken
    delivery = self.request.delivery_info or {}
    redelivered = taken_over or bool(delivery.get("redelivered"))
    decision = take(store, scan_id, redelivered, _leases())
    if decision != "run":
        log.info("scan %s not run: %s", scan_id, decision)
        return decision
    record = store.get_scan(scan_id)
    registry = registry_of(record.reference) if record is not None else ""
    with _slots().held(registry, f"{scan_id}:{os.getpid()}", REGISTRY_WAIT_SECONDS) as got:
        if got:
            with _leases().held(scan_id, delivery.get("routing_key") or URGENT):
                return _run(store, scan_id)
    # This registry has its fleet-wide share running: to the back of the queue, so scans
    # of other registries behind it go first (the store still says "queued").
    log.info("scan %s waits: %s has %d scans running", scan_id, registry, _slots().limit)
    raise Reject(f"registry {registry} busy", requeue=True)


def _run(store: Store, scan_id: str) -> str:
    options: ScanOptions = app.conf["detonate_scan_options"]
    try:
        finished = run_scan(store, scan_id, options)
    except SoftTimeLimitExceeded:
        store.mark_failed(scan_id, "over the worker's soft time limit")
        return "failed"
    except Exception as error:  # the store stayed down past PatientStore's patience
        log.exception("scan %s: store unavailable", scan_id)
        raise Reject(f"store unavailable: {error}", requeue=True) from None
    return finished.status.value if finished is not None else "taken meanwhile"


worker_process_init.connect(_open_in_child, weak=False)
worker_before_create_process.connect(_forking, weak=False)
worker_ready.connect(freeze_heap, weak=False)  # again, with the consumer and pool set up
scan_task = app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)(_scan)
