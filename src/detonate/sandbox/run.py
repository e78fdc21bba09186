"""One detonation: bundle → runc create → tracer attach → runc start → watch → tear down.

The tracer is whichever `options.tracer` names (sandbox/tracing); this module knows it only
through the `Tracer` seam.

Teardown always runs (exit, timeout, idle, Ctrl-C, SIGTERM, exceptions); what a SIGKILLed
analyser could not tear down is found by the next run (`leftovers.StateDir.sweep`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import TypeVar

from detonate.model.events import Event, SleepSkipped, WaitPending, WaitTimedOut
from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage
from detonate.model.options import CONTAINER_ID_BASE, MiB, SandboxOptions
from detonate.model.runtime import EndReason, ProcessInfo, RunInfo, RunResult, RunStatus
from detonate.progress import Progress
from detonate.sandbox.attribution import attribute
from detonate.sandbox.container_identity import new_hostname, write_identity
from detonate.sandbox.cpu_placement import available, place
from detonate.sandbox.fake_host import ServedBinds, build_fake_host
from detonate.sandbox.filesystem_diff import diff_upper, snapshot_upper
from detonate.sandbox.honeytokens import homes_for, kubernetes_env, plant_honeytokens
from detonate.sandbox.leftovers import (
    CGROUP_ROOT,
    DEFAULT_STATE_DIR,
    RunState,
    StateDir,
    is_alive,
    process_start_time,
    release,
)
from detonate.sandbox.limits_hit import cgroup_limits_hit, filesystem_limits_hit
from detonate.sandbox.network import NetworkHook
from detonate.sandbox.oci_config import process_spec, runtime_config
from detonate.sandbox.overlay import mount_overlay, mount_tmpfs
from detonate.sandbox.phases import Phases
from detonate.sandbox.runc import CONTAINER_PREFIX
from detonate.sandbox.timekeeper import CompressedWait, TimeKeeper
from detonate.sandbox.tracing import open_tracer
from detonate.sandbox.tracing.interface import TraceContext, Tracer
from detonate.sandbox.watchdog import ensure_watchdog
from detonate.unpack.overlay_lowers import lower_stack

OUTPUT_CAP_BYTES = 1 * MiB  # container stdout/stderr kept
POLL_SECONDS = 0.2
FIRST_POLL_SECONDS = 0.01  # doubled up to POLL_SECONDS: a sample that exits at once is seen so
SLEEP_CALLS = ("nanosleep", "clock_nanosleep")
_PLACING = threading.Lock()
T = TypeVar("T")


def detonate(
    image: AcquiredImage,
    rootfs: Rootfs,
    options: SandboxOptions,
    work_dir: Path,
    progress: Progress,
    network: NetworkHook | None = None,
    *,
    state_dir: Path = DEFAULT_STATE_DIR,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Run the image's entrypoint in the sandbox and return what it did. Setting `cancel`
    ends the run within a poll interval (ended by "interrupted"), torn down as always.

    Raises SandboxError when the sandbox cannot be set up (the sample never ran); once the
    sample has started, the result says how the run ended.
    """
    phases = Phases()
    ensure_watchdog(state_dir)  # kills and removes the run at once if this process is killed
    states = StateDir(state_dir)
    container_id = CONTAINER_PREFIX + secrets.token_hex(6)
    run_dir = work_dir / container_id
    run_dir.mkdir(parents=True)
    tracer = open_tracer(options.tracer, run_dir)
    artifacts = run_dir / "artifacts"
    artifacts.mkdir()
    mount_dir = state_dir / "mounts" / container_id
    state = RunState(
        container_id, str(run_dir), cgroup="/" + container_id, mount_dir=str(mount_dir)
    )
    with _PLACING:  # the threads of one process (a fleet worker) spread too
        live = [s.cpus for s in states.states() if is_alive(s.owner_pid, s.owner_start)]
        state.cpus = place(options.cpus, live, available())
        states.save(state)  # before anything exists, so a crash at any later point is found
    # Dead analysers' leftovers are swept beside this run's set-up, not before it: the sweep
    # touches only what dead owners left (this run's state is saved, its owner alive), and
    # waits on runc and ip processes the set-up need not wait for.
    sweeping = in_background(states.sweep, "detonate-sweep")
    run = _Run(states, state, options, run_dir, tracer, network, cancel, phases, sweeping)
    progress.start("sandbox", total=options.timeout_seconds, unit="s")
    try:
        with _sigterm_as_interrupt():
            result = run.execute(image, rootfs, artifacts, progress)
        info = dataclasses.replace(result.run, phase_seconds=phases.seconds())
        return dataclasses.replace(result, run=info)
    finally:
        sweeping.exception()  # never outlives the run (its error was raised before the start)
        progress.finish("sandbox")


def in_background(work: Callable[[], T], name: str) -> Future[T]:
    """`work()` on a thread of its own; its result, or its exception, in the future."""
    done: Future[T] = Future()

    def run() -> None:
        try:
            done.set_result(work())
        except BaseException as exc:  # raised where the result is read
            done.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return done


class _Run:
    def __init__(
        self,
        states: StateDir,
        state: RunState,
        options: SandboxOptions,
        run_dir: Path,
        tracer: Tracer,
        network: NetworkHook | None,
        cancel: threading.Event | None,
        phases: Phases,
        sweeping: Future[list[str]] | None = None,
    ) -> None:
        self.states, self.state, self.options = states, state, options
        self.sweeping = sweeping  # the leftovers sweep, awaited before the sample starts
        self.cancel = cancel
        self.phases = phases  # detonate()'s: its set-up before the _Run counts too
        self.run_dir, self.network = run_dir, network
        self.tracer = tracer
        self.cgroup = state.cgroup
        self.keeper: TimeKeeper | None = None
        self.container_deleted = False  # by _stop(): the teardown need not ask runc again
        self.collecting: Future[tuple[Event, ...]] | None = None  # the network's events

    def execute(
        self, image: AcquiredImage, rootfs: Rootfs, artifacts: Path, progress: Progress
    ) -> RunResult:
        with lower_stack(rootfs) as lowers:  # removed after the teardown unmounted them
            return self._execute(image, rootfs, lowers, artifacts, progress)

    def _execute(
        self,
        image: AcquiredImage,
        rootfs: Rootfs,
        lowers: list[Path],
        artifacts: Path,
        progress: Progress,
    ) -> RunResult:
        options, state = self.options, self.state
        interrupted = False
        try:
            overlay = mount_overlay(
                lowers, Path(state.mount_dir), options.disk_bytes, OUTPUT_CAP_BYTES
            )
            state.mounts = [str(p) for p in overlay.mount_points]
            self.states.save(state)
            # The image's users are read from the merged tree (a layered rootfs has no other).
            spec = process_spec(image.config, options, overlay.merged)
            spec = dataclasses.replace(spec, env=kubernetes_env(spec.env))
            bait = plant_honeytokens(overlay.merged, homes_for(spec.uid, spec.gid, spec.env))
            host = self._fake_host(overlay.merged)
            bundle = overlay.merged.parent
            hostname = new_hostname()
            config = runtime_config(spec, options, self.cgroup, hostname, state.cpus)
            config["mounts"] += host.mounts
            cpu_dir = CGROUP_ROOT / "cpuacct" / self.cgroup.strip("/")
            self.keeper = keeper = TimeKeeper(
                cpu_dir,
                activity=self.tracer.activity,
                effects=self.tracer.effects,
                answering=self.network.answering if self.network is not None else None,
                cpus=state.cpus,
            )
            config["linux"]["seccomp"] = keeper.seccomp_section(config["linux"]["seccomp"])
            state.keeper_dir = keeper.directory
            self.states.save(state)
            (bundle / "config.json").write_text(json.dumps(config, indent=1))
            address = self.network.container_address if self.network is not None else ""
            write_identity(overlay.merged, hostname, address)
            if self.network is not None:
                self.network.prepare(overlay.merged, hostname)
            runc = self.states.runc
            with open(overlay.logs / "output.log", "wb") as output:
                # Container root must be able to reopen its own stdout (`/dev/stdout`, and the
                # `/var/log/nginx/access.log -> /dev/stdout` links of many official images).
                os.fchown(output.fileno(), CONTAINER_ID_BASE, CONTAINER_ID_BASE)
                init_pid = runc.create(state.container_id, bundle, output, bundle / "init.pid")
            keeper.start()
            self.tracer.attach(init_pid)
            state.tracer_pid = self.tracer.pid()
            with contextlib.suppress(OSError):  # each traced call is a round trip: same CPUs
                os.sched_setaffinity(state.tracer_pid, state.cpus)
            state.tracer_start = process_start_time(state.tracer_pid)
            self.states.save(state)
            if self.network is not None:
                self.network.attach(init_pid)
            # What runc and the hooks put in the upper dir (mount points, hosts, hostname,
            # resolv.conf, trust bundles, honeytokens) is setup, not the sample's doing: the
            # diff leaves it out unless changed.
            setup = snapshot_upper(overlay.upper)
            if self.sweeping is not None:
                self.sweeping.result()  # a sweep that failed fails the run, as it always did
            self.phases.end("setup")
            t0 = time.time()
            runc.start(state.container_id)
            try:
                ended_by = self._watch(progress, t0)
            except KeyboardInterrupt:
                interrupted, ended_by = True, EndReason.INTERRUPTED
            duration = time.time() - t0
            self.phases.end("run")
            cpu_seconds, memory_peak = self._cpu_ns() / 1e9, self._memory_peak()
            limits_hit = cgroup_limits_hit(self.cgroup)  # before runc delete removes it
            self._stop()
            limits_hit += filesystem_limits_hit(overlay.upper, overlay.logs)
            if self.network is not None:  # capture, services and counters end beside the parse
                network = self.network
                self.collecting = in_background(lambda: network.collect(t0), "netsim-collect")
            keeper.close()
            summary = self.tracer.summary(
                TraceContext(
                    t0,
                    spec.cwd,
                    spec.args[0],
                    {**bait.watched, **host.watched},
                    rootfs=overlay.merged,
                )
            )
            waits = _wait_events(keeper.records, t0, summary.processes)
            lower = frozenset(e.path for e in rootfs.entries) if rootfs.layer_dirs else rootfs.root
            files = diff_upper(overlay.upper, lower, summary.executed_paths, artifacts, setup)
            _copy_head(overlay.logs / "output.log", self.run_dir / "output.log")
            net_events = self.collecting.result() if self.collecting is not None else ()
            merged = _merge((*summary.events, *waits), net_events, t0)
            events = _in_sample_time(attribute(merged, summary.processes), keeper, t0)
            info = RunInfo(
                status=RunStatus.COMPLETED,
                ended_by=ended_by,
                duration_seconds=round(duration, 3),
                events=len(events),
                parse_errors=summary.parse_errors,
                lines_lost=summary.lines_lost,
                runtime_setup_lines=summary.runtime_setup_lines,
                skipped_sleep_seconds=round(keeper.skipped_seconds(), 3),
                skipped_by_process=_skipped_by_process(keeper.records),
                exit_code=summary.init_exit_code,
                cpu_seconds=round(cpu_seconds, 3),
                memory_peak_bytes=memory_peak,
                limits=_limits(options),
                limits_hit=tuple(limits_hit),
                hostname=hostname,
                addresses=(address,) if address else (),
            )
            self.phases.end("collect")
            return RunResult(
                events,
                summary.processes,
                files,
                info,
                artifacts,
                honeytokens=bait.tokens + host.tokens,
                host_mounts=host.host_mounts,
            )
        finally:
            self._teardown()
            if interrupted:
                raise KeyboardInterrupt

    def _fake_host(self, rootfs: Path) -> ServedBinds:
        """The binds the run asked for, served from a fake host tree on a tmpfs of its own
        (recorded before it is mounted, so teardown and the sweep unmount it)."""
        if not self.options.binds:
            return ServedBinds((), (), ())
        tree = Path(self.state.mount_dir) / "host"
        tree.mkdir()
        self.state.mounts.append(str(tree))
        self.states.save(self.state)
        mount_tmpfs(tree, "detonate-host", f"size={self.options.disk_bytes},mode=0755")
        return build_fake_host(tree).serve(self.options.binds, rootfs)

    def _stop(self) -> None:
        """Kill everything in the container; the tracer ends when its last tracee is gone."""
        runc = self.states.runc
        runc.kill(self.state.container_id)
        self.tracer.stop()
        self.container_deleted = runc.delete(self.state.container_id)

    def _watch(self, progress: Progress, t0: float) -> EndReason:
        """Until exit, --timeout, the tracer's own limit, or idle: every thread blocked, (nearly) no
        CPU and no timed wait pending that time would end, for idle_seconds (the time keeper
        judges; a pending wait is compressed instead, so the sample is woken, not left)."""
        options = self.options
        assert self.keeper is not None
        start = time.monotonic()
        reported = 0
        delay = FIRST_POLL_SECONDS
        while True:
            time.sleep(delay)
            delay = min(POLL_SECONDS, 2 * delay)
            now = time.monotonic()
            if int(now - start) > reported:
                progress.advance("sandbox", int(now - start) - reported)
                reported = int(now - start)
            if not self.tracer.running():
                return EndReason.EXITED
            if self.cancel is not None and self.cancel.is_set():
                return EndReason.INTERRUPTED
            if self.tracer.limit_reached():
                return EndReason.TRACE_LIMIT
            if now - start >= options.timeout_seconds:
                return EndReason.TIMEOUT
            if options.idle_seconds > 0 and self.keeper.quiet_for() >= options.idle_seconds:
                return EndReason.IDLE

    def _memory_peak(self) -> int:
        peak = CGROUP_ROOT / "memory" / self.cgroup.strip("/") / "memory.max_usage_in_bytes"
        try:
            return int(peak.read_text())
        except (OSError, ValueError):
            return 0

    def _cpu_ns(self) -> int:
        usage = CGROUP_ROOT / "cpuacct" / self.cgroup.strip("/") / "cpuacct.usage"
        try:
            return int(usage.read_text())
        except (OSError, ValueError):
            return 0

    def _teardown(self) -> None:
        if self.collecting is not None:
            self.collecting.exception()  # the simulator is closed after its collect, not during
        # The simulated internet (its processes, namespace and veth) is closed beside the
        # container's release: neither needs the other.
        network = self.network
        closing = in_background(network.close, "netsim-close") if network is not None else None
        try:
            # kills what is left: no held call outlives it
            release(self.states, self.state, self.container_deleted)
        finally:
            if self.keeper is not None:
                self.keeper.close()
            if closing is not None:
                closing.result()
            self.phases.end("teardown")


def _limits(options: SandboxOptions) -> tuple[tuple[str, str], ...]:
    return (
        ("memory_bytes", str(options.memory_bytes)),
        ("pids", str(options.pids)),
        ("cpus", str(options.cpus)),
        ("disk_bytes", str(options.disk_bytes)),
        ("timeout_seconds", str(options.timeout_seconds)),
        ("idle_seconds", str(options.idle_seconds)),
    )


def _copy_head(source: Path, target: Path) -> None:
    if source.exists():
        with open(source, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read(OUTPUT_CAP_BYTES))


def _wait_events(
    records: list[CompressedWait], t0: float, processes: tuple[ProcessInfo, ...]
) -> tuple[Event, ...]:
    """The time keeper's waits as events: sleeps and timed waits that ran out (skipped or
    not), and those still held at the end. Waits that real input ended are not delays."""
    table = {p.pid: p for p in processes}
    events: list[Event] = []
    for r in records:
        if r.outcome == "input":
            continue
        cls: type[WaitPending | WaitTimedOut | SleepSkipped]
        cls = WaitPending if r.outcome == "pending" else WaitTimedOut
        if r.call in SLEEP_CALLS and r.outcome != "pending":
            cls = SleepSkipped
        proc = table.get(r.pid)
        events.append(
            cls(
                seq=0,
                ts=round(max(0.0, r.wall - t0), 6),
                pid=r.pid,
                ppid=proc.ppid if proc else 0,
                exe=proc.exe if proc else "",
                argv=proc.argv if proc else (),
                call=r.call,
                requested_seconds=r.requested_seconds,
                skipped_seconds=r.skipped_seconds,
            )
        )
    return tuple(events)


def _skipped_by_process(records: list[CompressedWait]) -> tuple[tuple[int, float], ...]:
    """Sample time skipped while each process waited. Threads of one process (a Go runtime's)
    wait through the same jump at once, so their spans are joined, not added."""
    spans: dict[int, list[tuple[float, float]]] = {}
    for r in records:
        if r.skipped_seconds > 0:
            spans.setdefault(r.pid, []).append((r.sample_time - r.skipped_seconds, r.sample_time))
    totals = {pid: _union_length(intervals) for pid, intervals in spans.items()}
    ranked = sorted(((pid, round(s, 3)) for pid, s in totals.items() if s > 0), key=lambda x: -x[1])
    return tuple(ranked)


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _in_sample_time(events: tuple[Event, ...], keeper: TimeKeeper, t0: float) -> tuple[Event, ...]:
    """Each event's `sample_ts`: its `ts` plus the seconds skipped before it."""
    return tuple(
        dataclasses.replace(e, sample_ts=round(e.ts + keeper.offset_at(t0 + e.ts), 6))
        for e in events
    )


def _merge(ours: tuple[Event, ...], theirs: tuple[Event, ...], t0: float) -> tuple[Event, ...]:
    """One stream ordered by time; the simulator's epoch timestamps are made run-relative."""

    def relative(e: Event) -> Event:
        return dataclasses.replace(e, ts=round(e.ts - t0, 6)) if e.ts > 1e9 else e

    merged = sorted([*ours, *(relative(e) for e in theirs)], key=lambda e: e.ts)
    return tuple(dataclasses.replace(e, seq=i) for i, e in enumerate(merged))


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) tears down like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def remove_run_dir(result: RunResult) -> None:
    """For callers that do not keep artifacts."""
    if result.artifacts_dir is not None:
        shutil.rmtree(result.artifacts_dir.parent, ignore_errors=True)
