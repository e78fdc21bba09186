"""Resource bombs (issue 14): the host's responsiveness while each bomb runs in the sandbox,
the analyser's peak memory, and the seconds from a SIGKILL of `detonate image` to nothing of
its run left.

    sudo .venv/bin/python benchmarks/bombs.py [--bombs fork,memory,...] [--trace-cap-mib 64]
                                              [--kills 3] [--rounds 30]

Per bomb (one at a time, each bounded by the sandbox's limits; nothing runs outside it):
  latency   wall time of a trivial host command (`/bin/true`, fork+exec+wait) every 0.1 s,
            medians and p95 while the bomb runs vs idle just before it (interleaved, same
            script): the ratio says how much the bomb slows the host.
  rss       the analyser's peak resident memory (VmHWM of a fresh process that ran only that
            bomb), vs a benign run (`true`) as the peer.
The trace flood runs with the trace cap lowered to --trace-cap-mib (the real cap is 512 MiB;
the analyser's memory grows with the trace it parses, so MiB of RSS per MiB of trace is
printed too). Then --kills scans of a busybox server image are SIGKILLed while the sample
runs, and the seconds until no process, mount, namespace, cgroup or dir of the run is left
are timed. Prints tables; asserts nothing. Needs root, runc, strace, busybox and gcc.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from detonate.model.options import MiB  # noqa: E402
from sandbox import scenarios  # noqa: E402
from sandbox.busybox_image import FAST, build_busybox_rootfs, install_standins  # noqa: E402

# name → (entrypoint, SandboxOptions overrides)
BOMBS: dict[str, tuple[tuple[str, ...], dict[str, object]]] = {
    "benign": (("/bin/true",), {}),
    "fork": (("/bin/sh", "-c", scenarios.FORK_BOMB), {"timeout_seconds": 6, "pids": 64}),
    "memory": (("/bin/sh", "-c", scenarios.MEMORY_HOG), {"memory_bytes": 64 * MiB}),
    "disk": (("/bin/sh", "-c", scenarios.DISK_FILL), {"disk_bytes": 64 * MiB}),
    "inodes": (("/bin/sh", "-c", scenarios.INODE_FLOOD), {"disk_bytes": 8 * MiB}),
    "log-flood": (("/bin/sh", "-c", scenarios.LOG_FLOOD), {"timeout_seconds": 6}),
    "cpu": (("/bin/sh", "-c", scenarios.CPU_SPIN), {"timeout_seconds": 6}),
    "fds": (("/bin/fd_exhaustion",), {}),
    "trace-flood": (("/bin/sh", "-c", scenarios.TRACE_FLOOD), {"timeout_seconds": 300}),
    "huge-argv": (("/bin/sh", "-c", scenarios.HUGE_ARGV), {}),
    "sigterm-ignorer": (("/bin/sh", "-c", scenarios.TERM_IGNORER), {"timeout_seconds": 6}),
    "zombies": (("/bin/sh", "-c", scenarios.ZOMBIE_ARMY), {}),
    "ptrace-games": (("/bin/ptrace_games",), {}),
}


def build_rootfs(base: Path) -> Path:
    root = build_busybox_rootfs(base / "image" / "rootfs")
    os.chmod(base, 0o755)
    os.chmod(root.parent, 0o755)
    install_standins(root)
    return root


def child(name: str, root: Path, work: Path, trace_cap: int) -> None:
    """Run one bomb in this fresh process; print the outcome and this process's peak RSS."""
    from detonate.model.filesystem import Rootfs
    from detonate.progress import NullProgress
    from detonate.sandbox import run as sandbox_run
    from sandbox.busybox_image import image_running

    sandbox_run.TRACE_CAP_BYTES = trace_cap
    args, limits = BOMBS[name]
    options = dataclasses.replace(FAST, **limits)  # type: ignore[arg-type]
    result = sandbox_run.detonate(
        image_running(*args), Rootfs(root, ()), options, work, NullProgress()
    )
    hwm = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    trace = result.artifacts_dir.parent / "trace.log" if result.artifacts_dir else None
    print(
        json.dumps(
            {
                "ended_by": result.run.ended_by.value,
                "limits_hit": list(result.run.limits_hit),
                "duration": result.run.duration_seconds,
                "events": result.run.events,
                "rss": hwm,
                "trace_bytes": trace.stat().st_size if trace and trace.exists() else 0,
            }
        )
    )


def latency_ms() -> float:
    started = time.perf_counter()
    subprocess.run(["/bin/true"], check=True)
    return (time.perf_counter() - started) * 1000


def sample_latency(seconds: float) -> list[float]:
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(latency_ms())
        time.sleep(0.1)
    return out


@dataclasses.dataclass
class Outcome:
    idle: list[float]  # ms per trivial host command before the bomb
    during: list[float]  # … while it ran
    ended_by: str = ""
    limits_hit: list[str] = dataclasses.field(default_factory=list)
    duration: float = 0.0
    events: int = 0
    rss: int = 0  # the analyser's peak, bytes
    trace_bytes: int = 0


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def run_bomb(name: str, root: Path, base: Path, trace_cap: int) -> Outcome:
    idle = sample_latency(3.0)
    work = base / name
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", name, str(root), str(work), str(trace_cap)],
        stdout=subprocess.PIPE,
        text=True,
    )
    during = []
    while process.poll() is None:
        during.append(latency_ms())
        time.sleep(0.1)
    out = json.loads(process.stdout.read().strip().splitlines()[-1]) if process.stdout else {}
    shutil.rmtree(work, ignore_errors=True)
    return Outcome(idle, during or [latency_ms()], **out)


def kill_times(kills: int, base: Path) -> list[float]:
    from detonate.factory import LayerSpec, write_oci_archive
    from detonate.factory.busybox import busybox_layer
    from detonate.factory.spec import FileSpec, ImageSpec
    from sandbox.test_killed_analyser import SERVER, start_scan, wait_for_sample

    spec = ImageSpec(
        name="kill-me",
        layers=(
            busybox_layer(),
            LayerSpec((FileSpec("/start.sh", content=SERVER.encode(), mode=0o755),)),
        ),
        entrypoint=("/start.sh",),
    )
    archive = base / "kill-me.oci.tar"
    write_oci_archive(spec, archive)
    times: list[float] = []
    for i in range(2 * kills):
        if len(times) == kills:
            break
        scan = start_scan(f"oci-archive:{archive}", base / f"kill{i}")
        try:
            traces = wait_for_sample(scan)
        except AssertionError as exc:  # a run another sweep on the machine removed, say
            print(f"  kill {i}: not measured ({exc})", flush=True)
            scan.kill()
            scan.wait()
            continue
        time.sleep(0.5)
        scan.kill()
        scan.wait()
        times.append(traces.seconds_until_gone(30))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bombs", default=",".join(BOMBS))
    parser.add_argument("--trace-cap-mib", type=int, default=64)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, root, work, cap = args.child
        child(name, Path(root), Path(work), int(cap))
        return
    base = Path(tempfile.mkdtemp(prefix="detonate-bombs-"))
    try:
        root = build_rootfs(base)
        results: dict[str, Outcome] = {}
        for name in args.bombs.split(","):
            r = results[name] = run_bomb(name, root, base, args.trace_cap_mib * MiB)
            print(f"  {name}: {r.ended_by} {r.limits_hit} {r.duration} s", flush=True)
        benign_rss = results["benign"].rss if "benign" in results else 0
        print(
            f"\n{'bomb':16} {'ended':12} {'limits hit':16} {'idle ms':>8} {'bomb ms':>8} "
            f"{'ratio':>6} {'p95 ms':>7} {'rss MiB':>8} {'vs benign':>9} {'trace MiB':>9}"
        )
        for name, r in results.items():
            idle, during = statistics.median(r.idle), statistics.median(r.during)
            print(
                f"{name:16} {r.ended_by:12} {','.join(r.limits_hit) or '-':16} "
                f"{idle:8.1f} {during:8.1f} {during / idle:6.2f} {p95(r.during):7.1f} "
                f"{r.rss / MiB:8.1f} {r.rss / benign_rss if benign_rss else 0:9.2f} "
                f"{r.trace_bytes / MiB:9.1f}"
            )
        if args.kills:
            times = kill_times(args.kills, base)
            print(
                f"\nSIGKILL of `detonate image` while the sample runs → nothing of the run left: "
                f"median {statistics.median(times):.2f} s, max {max(times):.2f} s "
                f"({', '.join(f'{t:.2f}' for t in times)})"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
