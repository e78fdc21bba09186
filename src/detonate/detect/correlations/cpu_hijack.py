"""CPU hijacking without a pool in sight (T1496): processes kept busy for most of the run
whose output goes nowhere, and that reach neither the network nor a file.

Busy is measured two ways, because tracing changes where the time goes:
- the container's CPU time (cgroup) stayed near its quota for the run: a compute loop that
  makes no system calls (a miner's hashing) burns it unseen by the tracer;
- processes made system calls nonstop: every traced call stops the caller for the tracer, so
  `yes > /dev/null` shows up as calls, not as CPU. One tracer serves them all, so the rate
  each gets falls with their number: each must keep up CALLS_PER_SECOND and together
  BUSY_CALLS_PER_SECOND (an idle daemon makes a handful a second).

A burner is a process alive for at least MIN_SECONDS and half the run, whose standard output
is /dev/null, that connected nowhere and wrote no file: work nobody collects. A miner that
also talks to its pool is the mining detector's (stratum, pool ports). Not seen: a burner that
writes its output to a file or to the container's log, or that stops halfway through the
run; a benign program that throws its output away and spins (a cache warm-up reading files
into /dev/null for the whole run) looks the same.
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import RunIndex, command_line, index_of
from detonate.detect.interface import RunView
from detonate.model.events import FileOpenedForWrite, NetworkConnected, NetworkSent
from detonate.model.findings import Evidence, Finding
from detonate.model.runtime import ProcessInfo

NAME = "cpu-hijack"
DISCARDED = "/dev/null"
MIN_SECONDS = 3.0
MIN_RUN_SHARE = 0.5  # of the run's duration, a burner's lifetime at least
CPU_QUOTA_SHARE = 0.8  # of cpus × duration: the container kept busy
CALLS_PER_SECOND = 100.0  # each burner, over its life
BUSY_CALLS_PER_SECOND = 1000.0  # the burners together (strace here: ~3000 for a tight loop)


class CpuHijack:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        info = run.run
        if info is None or info.duration_seconds < MIN_SECONDS or not run.processes:
            return ()
        cpu_busy = info.cpu_seconds >= CPU_QUOTA_SHARE * _cpus(info.limits) * (
            info.duration_seconds
        )
        index = index_of(run)
        producers = _producers(run)
        # (process, lifetime, calls a second) of those whose output goes to /dev/null
        discarding: list[tuple[ProcessInfo, float, float]] = []
        for proc in run.processes:
            lifetime = (proc.end if proc.end is not None else info.duration_seconds) - proc.start
            if lifetime < max(MIN_SECONDS, MIN_RUN_SHARE * info.duration_seconds):
                continue
            if proc.stdout != DISCARDED or proc.pid in producers:
                continue
            discarding.append((proc, lifetime, proc.syscalls / lifetime))
        calling = [c for c in discarding if c[2] >= CALLS_PER_SECOND]
        if sum(rate for _, _, rate in calling) >= BUSY_CALLS_PER_SECOND:
            burners = calling
        elif cpu_busy:
            burners = discarding
        else:
            return ()
        if not burners:
            return ()
        evidence = [_burner(index, proc, lifetime, rate) for proc, lifetime, rate in burners]
        share = info.cpu_seconds / info.duration_seconds
        evidence.append(
            Evidence(
                description=f"container CPU: {info.cpu_seconds:g} s in {info.duration_seconds:g} "
                f"s of run ({share:.0%} of a core; quota {_cpus(info.limits):g} CPU)"
            )
        )
        return (finding("cpu-burn-without-output", NAME, evidence[:10]),)


def _cpus(limits: tuple[tuple[str, str], ...]) -> float:
    for key, value in limits:
        if key == "cpus":
            try:
                return float(value) or 1.0
            except ValueError:
                return 1.0
    return 1.0


def _producers(run: RunView) -> set[int]:
    """Pids that wrote a file or reached the network: their work goes somewhere."""
    out = set()
    for event in run.events:
        if isinstance(event, NetworkConnected | NetworkSent) or (
            isinstance(event, FileOpenedForWrite) and event.path != DISCARDED
        ):
            out.add(event.pid)
    return out


def _burner(index: RunIndex, proc: ProcessInfo, lifetime: float, rate: float) -> Evidence:
    shown = proc.names[-1] if proc.names else ""
    argv = command_line(proc.argv)
    name = f"{shown} ({argv})" if shown and not argv.startswith(shown) else argv
    return Evidence(
        description=f"{name or proc.exe} ran {lifetime:.1f} s with its output thrown away "
        f"({DISCARDED}), reaching no file and no network: {proc.syscalls} system calls "
        f"({rate:.0f} a second)",
        path=proc.exe,
        process=index.chain(proc.pid) if proc.pid in index.procs else (),
    )
