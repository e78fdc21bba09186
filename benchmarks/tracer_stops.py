"""How many of the sample's syscalls stop in the tracer, and what strace's `--seccomp-bpf`
would save (issue 8: postgres from samples/real does not reliably end by idle within 15 s).

    sudo .venv/bin/python benchmarks/tracer_stops.py [--repeat 3] [--target loop|postgres|both]

Three modes, each a fresh Python process running a full run of this checkout, interleaved:

  attach   the sandbox as it is: `strace -f -p <runc init>` after `runc create`. A `-p`
           attach gets no seccomp filter (strace(1)), so every syscall of the sample stops.
  launch   the design measured and NOT adopted (docs/sandbox.md, "Why strace attaches"):
           strace `-f --seccomp-bpf` starts `runc create` itself, so its filter (TRACE for the
           traced calls only) is inherited by runc's init and the sample. Patched in here, in
           this process only; strace runs in the host's network namespace (the container's
           does not exist before `runc create`).
  all      as attach with `-e trace=all`: the trace then counts every syscall the sample made
           (stops under attach) against those in the traced set (stops under launch).

Targets: `loop`, tracer_overhead.py's syscall-heavy shell loop (busybox, exits); `postgres`,
samples/real/postgres as a full default scan (initdb at first start, then idle). Prints each
run, the medians and launch/attach ratios, and the call counts. Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("attach", "launch", "all")
HEAVY = "i=0; while [ $i -lt 4000 ]; do echo $i > /tmp/f; i=$((i+1)); done; cat /tmp/f"

# The child: patches the tracer for its mode, runs once, prints one JSON line.
CHILD = r'''
import collections, json, re, subprocess, sys, time
from pathlib import Path
sys.path[:0] = [sys.argv[1] + "/src", sys.argv[1] + "/tests"]
from detonate.sandbox import run as run_mod
from detonate.sandbox import runc as runc_mod
from detonate.sandbox.tracing.strace import tracer as tracer_mod
from detonate.sandbox.tracing.strace.calls import TRACED_CALLS

mode, target, arg, work = sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5])
tracers = []
open_tracer = run_mod.open_tracer
def recorded(name, run_dir):
    tracers.append(open_tracer(name, run_dir))
    return tracers[-1]
run_mod.open_tracer = recorded

command = tracer_mod.StraceTracer.command
def all_calls(self, init_pid):
    cmd = command(self, init_pid)
    cmd[cmd.index("trace=" + ",".join(TRACED_CALLS))] = "trace=all"
    return cmd
if mode == "all":
    tracer_mod.StraceTracer.command = all_calls

create = runc_mod.Runc.create
def launched(self, container_id, bundle, output, pid_file):
    """strace starts `runc create`; returns once the init waits on its exec fifo."""
    tracer = tracers[-1]
    cmd = tracer.command(0)
    cmd = cmd[cmd.index("strace"):cmd.index("-p")]
    cmd.insert(1, "--seccomp-bpf")
    cmd += ["--", "runc", "--root", str(self.root), "--log", str(bundle / "runc.log"),
            "create", "--bundle", str(bundle), "--pid-file", str(pid_file), container_id]
    tracer._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=output,
                                    stderr=output, start_new_session=True)
    deadline = time.monotonic() + 60
    # the state is "created" once the init waits; the pid file is renamed into place after
    while (self.state(container_id) or {}).get("status") != "created" or not pid_file.exists():
        if tracer._proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("runc create under strace failed")
        time.sleep(0.01)
    init_pid = int(pid_file.read_text())
    tracer._init_pid, tracer._init_fds = init_pid, tracer_mod._stdio_links(init_pid)
    return init_pid
attach = tracer_mod.StraceTracer.attach
def attach_once(self, init_pid):
    if self._proc is None:
        attach(self, init_pid)
if mode == "launch":
    runc_mod.Runc.create = launched
    tracer_mod.StraceTracer.attach = attach_once

CALL = re.compile(r"^(\d+) +[\d.]+ ([a-z0-9_]+)\(")
counts, setup = collections.Counter(), [0]
summary = tracer_mod.StraceTracer.summary
def counting(self, context):
    """Calls of the sample (from the init's exec on), by name; runc's own lines apart."""
    started = False
    with open(self.trace_file, errors="replace") as lines:
        for line in lines:
            m = CALL.match(line)
            if not m:
                continue
            if not started and not (int(m.group(1)) == self._init_pid and m.group(2) == "execve"):
                setup[0] += 1
                continue
            started = True
            name = m.group(2)
            if name == "ioctl":
                name += " " + re.split(r"[,) ]", line.split(">, ", 1)[-1])[0][:20]
            counts[name] += 1
    return summary(self, context)
tracer_mod.StraceTracer.summary = counting

start = time.monotonic()
if target == "loop":
    from detonate.model.filesystem import Rootfs
    from detonate.model.options import SandboxOptions
    from detonate.sandbox.run import detonate
    from sandbox.busybox_image import PROGRESS, image_running
    options = SandboxOptions(timeout_seconds=60, idle_seconds=2)
    result = detonate(image_running("/bin/sh", "-c", sys.argv[6]), Rootfs(Path(arg), ()),
                      options, work, PROGRESS)
    seconds, ended, events = time.monotonic() - start, str(result.run.ended_by), len(result.events)
    run_seconds = result.run.duration_seconds
else:
    from detonate.model.options import ScanOptions
    from detonate.pipeline import scan
    report = scan("oci-archive:" + arg, ScanOptions(cache_dir=work))
    seconds, ended, events = time.monotonic() - start, report.run.status, report.run.events
    run_seconds = report.run.duration_seconds
traced = set(TRACED_CALLS)
print(json.dumps({"seconds": seconds, "run_seconds": run_seconds, "ended": ended,
                  "events": events, "setup_lines": setup[0], "counts": dict(counts),
                  "in_traced_set": sum(v for k, v in counts.items() if k.split()[0] in traced)}))
'''


def run_once(mode: str, target: str, arg: Path, work: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), mode, target, str(arg), str(work), HEAVY],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        return {"seconds": float("nan"), "run_seconds": float("nan"), "ended": "error",
                "error": done.stderr.strip()[-500:]}  # fmt: skip
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def postgres_archive(out: Path) -> Path:
    from detonate.factory.build import build_all

    wanted = out / "real"
    built = {b.name: b.archive for b in build_all(ROOT / "samples" / "real", wanted)}
    return Path(built["postgres"])


def report(target: str, runs: dict[str, list[dict[str, object]]]) -> None:
    for mode in MODES:
        for r in runs[mode]:
            print(f"  {target} {mode:6} {r['run_seconds']:>7} s run, {r['seconds']:.1f} s "
                  f"total, ended {r['ended']}, events {r.get('events')}")  # fmt: skip
    median = {m: statistics.median(float(str(r["run_seconds"])) for r in runs[m]) for m in MODES}
    print(f"{target}: median run seconds attach {median['attach']:.2f}, launch "
          f"{median['launch']:.2f} (launch/attach {median['launch'] / median['attach']:.2f}), "
          f"all {median['all']:.2f}")  # fmt: skip
    every = runs["all"][0]
    counts = collections.Counter(every.get("counts") or {})
    total, traced = sum(counts.values()), int(str(every.get("in_traced_set", 0)))
    if total:
        print(f"{target}: syscalls of the sample {total:,} (each stops under attach), in the "
              f"traced set {traced:,} = {traced / total:.0%} (stop under launch); runc's own "
              f"lines under launch {runs['launch'][0].get('setup_lines')}")  # fmt: skip
        print(f"{target}: most frequent: {counts.most_common(12)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target", choices=("loop", "postgres", "both"), default="both")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="detonate-bench-stops-"))
    os.chmod(base, 0o755)
    targets: dict[str, Path] = {}
    if args.target in ("loop", "both"):
        sys.path.insert(0, str(ROOT / "tests"))
        from sandbox.busybox_image import build_busybox_rootfs

        targets["loop"] = build_busybox_rootfs(base / "rootfs")
    if args.target in ("postgres", "both"):
        targets["postgres"] = postgres_archive(base)
    try:
        for target, arg in targets.items():
            runs: dict[str, list[dict[str, object]]] = {m: [] for m in MODES}
            for i in range(args.repeat):  # interleaved, the first mode rotating: load drifts
                for mode in MODES[i % 3 :] + MODES[: i % 3]:
                    work = base / "work" / f"{target}-{mode}-{i}"
                    work.mkdir(parents=True)
                    runs[mode].append(run_once(mode, target, arg, work))
                    shutil.rmtree(work, ignore_errors=True)
            report(target, runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
