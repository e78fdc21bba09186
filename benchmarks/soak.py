"""Issue 14's soak: many full scans in one long-running process leave nothing behind.

    sudo nice -n 10 .venv/bin/python benchmarks/soak.py --scans 200 --parallel 8 --rounds 6
    sudo nice -n 10 .venv/bin/python benchmarks/soak.py --serve --scans 200 --parallel 8 --rounds 6
    sudo .venv/bin/python benchmarks/soak.py --quick [--serve]   # 5 in a row, 2 rounds of 2

Builds small harmless images with the project's factory (busybox writing a file and fetching
from the simulated internet, a busybox one that only reads, and samples/delayed-dropper when a
C compiler is there), then runs `--scans` full scans in a row (static + sandbox + simulated
internet), then `--rounds` rounds of `--parallel` scans at once. In-process (the default), this
process is the long-running analyser: `pipeline.scan` on its thread, the rounds on worker
threads as `detonate serve`'s workers run them. With `--serve`, the scans go to a `detonate
serve` started here (HTTPS, a bearer token, `--concurrency` = `--parallel`) over its API, one
distinct image per scan pushed to a local registry first (benchmarks/soak_serve.py), and the
service's process is the one watched.

Counters, sampled before, every `--every` scans, after each round and at the end (always between
scans, when none runs): the analyser's open fds and RSS; its descendant processes (runc, strace,
tcpdump, simulators); and what the sandbox makes, counted as *ours* — mounts (mountinfo lines
naming one of our container ids or our netns/work-dir prefix), network namespaces named
`detonate-sim-<our pid>-<start>-…` (`ip netns list` and /run/netns), cgroups
`detonate-<id>` of our container ids under the memory, pids, cpu and cpuacct v1 hierarchies
(ids learnt by watching /run/detonate/runs for states the analyser owns), files and bytes in
/tmp/detonate-*-<our pid>-<start>-* and /run/detonate. The machine is shared, so the host-wide
totals (all mountinfo lines, `lsns -t net`, every detonate-* cgroup and /tmp/detonate-* entry)
are printed for information and never judged. The cache (bounded by `cache_max_bytes`) is
printed on its own line, not judged; so is the service's store (one row per scan, by design).
A service keeps a simulator ready for its next scan (`keep_simulators_ahead`): those are counted
apart (`kept_ahead`, by their homes /tmp/detonate-simpool-<our pid>-<start>-*, which must not
grow) and their namespace, its mount, their process and their home are left out of the others.

Judgement, each phase after its own warm-up (imports, compiled rules, the simulator pool, the
watchdog, and one static-results SQLite connection per worker thread, kept for the thread's
later scans, are made once): in a row, from the sample after `--warmup` scans to the end of the
row; at once, from the sample after round 1 to the last (with 2 rounds or more). A counter fails
when it grew by more than its allowance in a phase: 4 fds; RSS max(24 MiB, 10 % of the
baseline); 0 for mounts, namespaces, cgroups, processes, temp and run-dir entries, which must
also all be gone at the end (back to the `before` sample). The slope per 100 scans (least
squares over each phase's samples) is printed beside. Exit status 1 on any failure, or when a
scan ended in an error or without a sandbox run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from detonate.factory import FileSpec, ImageSpec, LayerSpec, busybox_layer, write_oci_archive
from detonate.factory.build import build_sample
from detonate.model.options import SandboxOptions, ScanOptions
from detonate.pipeline import scan
from detonate.sandbox.leftovers import DEFAULT_STATE_DIR, process_start_time
from detonate.sandbox.netsim.pool import HOME_PREFIX

REPO = Path(__file__).resolve().parents[1]
CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
MiB = 1 << 20
SANDBOX = SandboxOptions(timeout_seconds=30, idle_seconds=2)

# A little file and network activity against the simulated internet, then exit.
ACTIVE = (
    "echo soak > /tmp/out.txt; mkdir -p /tmp/d; cp /etc/passwd /tmp/d/p;"
    " wget -q -T 3 -O /tmp/page http://soak.example.test/index.html;"
    " nslookup updates.example.test >/dev/null 2>&1; cat /tmp/page >/dev/null; rm -rf /tmp/d"
)
QUIET = "cat /etc/hostname; ls /bin >/dev/null; echo done"


def build_images(work: Path) -> list[str]:
    """The images the soak cycles through, as oci-archive references."""
    refs = []
    for name, script in (("soak-active", ACTIVE), ("soak-quiet", QUIET)):
        layer = LayerSpec((FileSpec("/app/run.sh", f"#!/bin/sh\n{script}\n".encode(), 0o755),))
        spec = ImageSpec(name, (busybox_layer(), layer), entrypoint=("/bin/sh", "/app/run.sh"))
        write_oci_archive(spec, work / f"{name}.oci.tar")
        refs.append(f"oci-archive:{work / name}.oci.tar")
    if shutil.which("gcc") or shutil.which("cc"):  # its entrypoint is a compiled stand-in
        refs.append(build_sample(REPO / "samples" / "delayed-dropper", work).archive_reference)
    return refs


POLL_SECONDS = 0.05  # a quick run's state file lives well under a second


class ContainerIds:
    """The container ids of the analyser's runs, learnt from the sandbox's state files (saved
    before anything of the run exists, removed after all of it is gone)."""

    def __init__(self, owner_pid: int, state_dir: Path = DEFAULT_STATE_DIR) -> None:
        self.owner_pid = owner_pid
        self.ids: set[str] = set()
        self._runs = state_dir / "runs"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="soak-ids", daemon=True)

    def __enter__(self) -> ContainerIds:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.poll()

    def poll(self) -> None:
        for path in self._runs.glob("detonate-*.json"):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if state.get("owner_pid") == self.owner_pid:
                self.ids.add(str(state["container_id"]))


def _tree_size(top: Path) -> tuple[int, int]:
    """(entries, bytes on disk) under top, top included; symlinks not followed."""
    entries, size, stack = 0, 0, [top]
    while stack:
        path = stack.pop()
        try:
            info = path.lstat()
        except OSError:
            continue
        entries, size = entries + 1, size + info.st_blocks * 512
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                stack.extend(path.iterdir())
    return entries, size


def _descendants(root: int) -> list[str]:
    """comm of every live descendant of root."""
    children: dict[int, list[int]] = {}
    comm: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
        words = rest.split()
        if words[0] in ("Z", "X"):
            continue
        children.setdefault(int(words[1]), []).append(int(entry.name))
        comm[int(entry.name)] = name
    found, stack = [], list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.append(comm[pid])
        stack.extend(children.get(pid, []))
    return found


def fd_kinds(pid: int) -> Counter[str]:
    """Open fds by what they are: "pipe", "socket", "anon_inode:[eventfd]", or a file's name."""
    kinds: Counter[str] = Counter()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        kind = target.split(":[")[0] if target.startswith(("pipe:", "socket:")) else target
        kinds[kind if kind.startswith(("pipe", "socket", "anon")) else Path(kind).name] += 1
    return kinds


def _netns_names() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    run_netns = Path("/run/netns")
    if run_netns.is_dir():
        names |= {p.name for p in run_netns.iterdir()}
    return names


def _lsns_net() -> int:
    listed = subprocess.run(
        ["lsns", "-t", "net", "-n", "-o", "NS"], capture_output=True, text=True, check=False
    )
    return len(set(listed.stdout.split()))


class Counters:
    """What the soak watches in the analyser `pid` (this process, or `detonate serve`): `ours`
    are judged; `host` is the shared machine's, shown only."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.owner = f"{pid}-{process_start_time(pid)}-"  # in its netns and temp dir names

    def _settled(self) -> tuple[list[Path], set[str]]:
        """The homes of the simulators kept ahead (a service keeps one ready for its next scan)
        and the namespaces, once each home has its namespace and its settings (written last,
        after the firewall's and the CA's processes ended): one started at the end of the last
        run may be half-made. A leaked namespace never settles: sampled after 5 s anyway."""
        deadline = time.monotonic() + 5
        while True:
            homes = list(Path(tempfile.gettempdir()).glob(f"{HOME_PREFIX}{self.owner}*"))
            netns = _netns_names()
            ours = sum(1 for n in netns if n.startswith("detonate-sim-" + self.owner))
            launched = all((home / "netsim" / "serve.json").exists() for home in homes)
            if (ours == len(homes) and launched) or time.monotonic() > deadline:
                return homes, netns
            time.sleep(0.1)

    def sample(self, ids: set[str], cache: Path) -> dict[str, float]:
        pid = self.pid
        ours: dict[str, float] = {}
        ours["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        ours["rss_mib"] = rss_pages * os.sysconf("SC_PAGE_SIZE") / MiB
        homes, netns = self._settled()
        kept = len(homes)  # simulators kept ahead: one namespace (one mount), one process each
        ours["kept_ahead"] = kept
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
        marks = (self.owner, *ids)
        ours["mounts"] = sum(1 for line in mountinfo if any(m in line for m in marks)) - kept
        ours["netns"] = sum(1 for n in netns if n.startswith("detonate-sim-" + self.owner)) - kept
        ours["cgroups"] = sum(1 for c in CONTROLLERS for i in ids if (CGROUP_ROOT / c / i).exists())
        procs = _descendants(pid)
        for name in ("runc", "strace", "tcpdump"):
            ours[f"procs_{name}"] = procs.count(name)
        ours["procs_all"] = len(procs) - kept
        temp = [p for p in Path(tempfile.gettempdir()).glob("detonate-*") if self.owner in p.name]
        temp = [p for p in temp if p not in homes]
        sizes = [_tree_size(p) for p in temp]
        ours["tmp_entries"] = sum(e for e, _ in sizes)
        ours["tmp_kib"] = sum(b for _, b in sizes) / 1024
        state_files = [DEFAULT_STATE_DIR / "runs" / f"{i}.json" for i in ids]
        state_dirs = [DEFAULT_STATE_DIR / d / i for d in ("mounts", "runc") for i in ids]
        ours["run_entries"] = sum(_tree_size(p)[0] for p in (*state_files, *state_dirs))
        host: dict[str, float] = {
            "host_mounts": len(mountinfo),
            "host_lsns_net": _lsns_net(),
            "host_netns": len(netns),
            "host_detonate_cgroups": sum(
                1 for c in CONTROLLERS for p in (CGROUP_ROOT / c).glob("detonate-*")
            ),
            "host_tmp_detonate": len(list(Path(tempfile.gettempdir()).glob("detonate-*"))),
            "host_run_detonate_entries": _tree_size(DEFAULT_STATE_DIR)[0],
        }
        return {**ours, **host, "cache_mib": _tree_size(cache)[1] / MiB}


# Growth allowed from the post-warm-up baseline to the last sample.
ALLOWANCE: dict[str, Callable[[float], float]] = {
    "fds": lambda base: 4,
    "rss_mib": lambda base: max(24.0, 0.10 * base),
    "kept_ahead": lambda base: 0.0,  # may stay at the end (bounded), must not grow
}
SHOWN = ("before", "warm", "in a row", "round 1", "after")
JUDGED = (
    "fds", "rss_mib", "kept_ahead", "mounts", "netns", "cgroups", "procs_runc", "procs_strace",
    "procs_tcpdump", "procs_all", "tmp_entries", "tmp_kib", "run_entries",
)  # fmt: skip


def slope_per_100(points: list[tuple[int, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 100 * sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


class Target(Protocol):
    pid: int  # the long-running analyser watched
    cache_dir: Path

    def scan(self, index: int) -> str | None:
        """Run scan number `index` to its end; why it failed, or None."""

    def shown(self) -> dict[str, float]:
        """Counters of this target that are shown, not judged."""


class InProcess:
    """`pipeline.scan` in this process, on the caller's thread."""

    def __init__(self, refs: list[str], options: ScanOptions) -> None:
        self.pid, self.cache_dir = os.getpid(), options.cache_dir
        self.refs, self.options = refs, options

    def scan(self, index: int) -> str | None:
        ref = self.refs[index % len(self.refs)]
        report = scan(ref, self.options)
        if report.error or report.run is None:
            return f"{ref}: {report.error.message if report.error else 'no sandbox run'}"
        return None

    def shown(self) -> dict[str, float]:
        return {}


@dataclass
class Soak:
    target: Target
    samples: list[tuple[str, int, dict[str, float]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: int = 0
    fds: list[Counter[str]] = field(default_factory=list)  # by kind, at each sample
    container_ids: int = 0  # sandbox runs seen

    def one(self, index: int, ids: ContainerIds) -> None:
        error = self.target.scan(index)
        ids.poll()
        if error:
            self.errors.append(f"scan {index}: {error}")

    def sample(self, label: str, ids: ContainerIds) -> None:
        ids.poll()
        values = Counters(self.target.pid).sample(ids.ids, self.target.cache_dir)
        values.update(self.target.shown())
        self.fds.append(fd_kinds(self.target.pid))
        self.samples.append((label, self.done, values))
        fields = " ".join(
            f"{k}={v:.0f}" for k, v in values.items() if k in ("fds", "rss_mib", "procs_all")
        )
        print(f"  [{label}] scans={self.done} {fields}", flush=True)

    def run(self, scans: int, every: int, parallel: int, rounds: int, warmup: int) -> None:
        with ContainerIds(self.target.pid) as ids:
            self.sample("before", ids)
            for index in range(scans):
                started = time.monotonic()
                self.one(index, ids)
                self.done += 1
                print(f"scan {self.done}: {time.monotonic() - started:.1f} s", flush=True)
                if self.done == warmup:
                    self.sample("warm", ids)
                elif self.done == scans:
                    self.sample("in a row", ids)
                elif self.done % every == 0:
                    self.sample("every", ids)
            if scans < warmup:
                self.sample("warm", ids)
            if self.samples[-1][0] != "in a row":
                self.sample("in a row", ids)
            with ThreadPoolExecutor(parallel, thread_name_prefix="soak-worker") as pool:
                for round_number in range(rounds):
                    started = time.monotonic()
                    first = self.done
                    list(pool.map(lambda n: self.one(n, ids), range(first, first + parallel)))
                    self.done += parallel
                    took = time.monotonic() - started
                    print(f"round {round_number + 1}, {parallel} at once: {took:.1f} s", flush=True)
                    self.sample(f"round {round_number + 1}", ids)
            time.sleep(1)  # let the last runs' helpers finish exiting
            self.sample("after", ids)
        self.container_ids = len(ids.ids)

    def judge(self) -> list[str]:
        """Print the table; return the counters that grew past their allowance."""
        at = {label: (done, values) for label, done, values in self.samples}
        seq = [(d, v) for label, d, v in self.samples if label in ("warm", "every", "in a row")]
        seq = [p for p in seq if p[0] >= at["warm"][0]]
        rounds = [(d, v) for label, d, v in self.samples if label.startswith("round")]
        (rounds if rounds else seq).append((self.samples[-1][1], self.samples[-1][2]))  # after
        first, last = self.samples[0][2], self.samples[-1][2]
        grew = []
        print(f"\n{len(self.samples)} samples; in-a-row baseline after {at['warm'][0]} scans")
        print(
            "| counter | before | warm | in a row, end | round 1 | after "
            "| slope /100 in a row | slope /100 rounds | allowed | verdict |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for key in first:
            row = [at[k][1][key] if k in at else float("nan") for k in SHOWN]
            slopes = [slope_per_100([(d, v[key]) for d, v in part]) for part in (seq, rounds)]
            verdict, allowed_text = "shown only", ""
            if key in JUDGED:
                allowed = ALLOWANCE.get(key, lambda base: 0.0)(at["warm"][1][key])
                steps = [(seq[0][1], seq[-1][1])]  # each phase after its own warm-up
                if len(rounds) > 1:
                    steps.append((rounds[0][1], rounds[-1][1]))
                ok = all(b[key] - a[key] <= allowed for a, b in steps)
                if key not in ALLOWANCE:  # what a run makes: all of it gone at the end
                    ok = ok and last[key] <= first[key]
                verdict, allowed_text = ("ok" if ok else "GREW"), f"+{allowed:.0f}"
                if not ok:
                    grew.append(key)
            cells = " | ".join(f"{v:.1f}" for v in row)
            print(
                f"| {key} | {cells} | {slopes[0]:+.2f} | {slopes[1]:+.2f} "
                f"| {allowed_text} | {verdict} |"
            )
        labels = [label for label, _, _ in self.samples]
        for label, index in (("warm", labels.index("warm")), ("after", -1)):
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.fds[index].items()))
            print(f"open fds {label}: {kinds}")
        return grew


def soak(target: Target, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Run the soak against `target`; (counters that grew, scan errors)."""
    scans, parallel, rounds, every, warmup = (
        args.scans, args.parallel, args.rounds, args.every, args.warmup
    )  # fmt: skip
    runner = Soak(target)
    started = time.monotonic()
    runner.run(scans, every, parallel, rounds, warmup)
    took = time.monotonic() - started
    print(f"\n{runner.done} scans in {took:.0f} s, {runner.container_ids} sandbox runs seen")
    grew = runner.judge()
    cache_mib = runner.samples[-1][2]["cache_mib"]
    print(f"cache (bounded by cache_max_bytes, not judged): {cache_mib:.1f} MiB")
    return grew, runner.errors


def in_process(work: Path, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    refs = build_images(work / "images")
    print(f"images: {', '.join(Path(r).name for r in refs)}", flush=True)
    options = ScanOptions(cache_dir=work / "cache", sandbox=SANDBOX)
    return soak(InProcess(refs, options), args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=200, help="scans in a row")
    parser.add_argument("--parallel", type=int, default=8, help="scans at once in a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --parallel scans")
    parser.add_argument("--every", type=int, default=10, help="sample every N scans in a row")
    parser.add_argument(
        "--warmup", type=int, help="scans before the baseline (3; --serve: --parallel + 2)"
    )
    parser.add_argument("--quick", action="store_true", help="5 in a row, 2 rounds of 2")
    parser.add_argument("--work", type=Path, help="default: a new temp dir, removed after")
    parser.add_argument(
        "--serve", action="store_true", help="scan through `detonate serve` (HTTPS, token)"
    )
    args = parser.parse_args()
    if args.quick:
        args.scans, args.parallel, args.rounds, args.every = 5, 2, 2, 1
    if args.warmup is None:  # a service spreads the scans over its workers: each warms up once
        args.warmup = (args.parallel + 1 if args.quick else args.parallel + 2) if args.serve else 3
    if os.geteuid() != 0:
        sys.exit("needs root (the sandbox: runc, namespaces, cgroups)")
    print("load average before:", " ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        if args.serve:
            from soak_serve import served  # benchmarks/: a registry, a service, their images

            grew, errors = served(work, args, soak)
        else:
            grew, errors = in_process(work, args)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    for error in errors:
        print("scan error:", error)
    if grew or errors:
        print(f"FAIL: grew {', '.join(grew) or 'nothing'}; {len(errors)} scans in error")
        sys.exit(1)
    print("OK: nothing but the bounded cache grew")


if __name__ == "__main__":
    main()
