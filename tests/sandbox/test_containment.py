"""Real runs in runc + strace: each sample is a harmless re-enactment trying to hurt the host."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from detonate.model.events import PrivilegedAttempt, ProcessExecuted, ProcessForked, SleepSkipped
from detonate.model.filesystem import Rootfs
from detonate.model.options import MiB
from detonate.model.runtime import ChangeKind, ContentType, EndReason, RunResult
from detonate.sandbox.leftovers import CGROUP_ROOT, DEFAULT_STATE_DIR
from detonate.sandbox.overlay import mounted_paths
from detonate.sandbox.run import detonate

from . import scenarios
from .busybox_image import FAST, PROGRESS, image_running

pytestmark = pytest.mark.sandbox


def run(rootfs: Rootfs, tmp_path: Path, script: str, **limits: object) -> RunResult:
    options = dataclasses.replace(FAST, **limits)
    return detonate(image_running("/bin/sh", "-c", script), rootfs, options, tmp_path, PROGRESS)


def assert_nothing_left(result: RunResult) -> None:
    container_id = result.artifacts_dir.parent.name if result.artifacts_dir else ""
    assert container_id.startswith("detonate-")
    assert not any(container_id in p for p in mounted_paths())
    assert not any((c / container_id).exists() for c in CGROUP_ROOT.iterdir())
    assert not (DEFAULT_STATE_DIR / "runs" / f"{container_id}.json").exists()
    assert not (DEFAULT_STATE_DIR / "runc" / container_id).exists()


def test_delayed_payload_finishes_in_seconds_with_the_skip_reported(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = run(busybox_rootfs, tmp_path, scenarios.DELAYED_PAYLOAD)
    # far below the 600 s sleep, with room for set-up on a busy machine (the run is bounded by
    # FAST's 20 s timeout; ended_by is asserted)
    assert time.monotonic() - started < 60
    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    assert result.run.skipped_sleep_seconds >= 599
    assert any(isinstance(e, SleepSkipped) and e.requested_seconds == 600 for e in result.events)
    (payload,) = [f for f in result.files if f.path == "/tmp/payload.sh"]
    assert payload.change == ChangeKind.CREATED and payload.content_type == ContentType.SCRIPT
    assert payload.executed and len(payload.sha256) == 64
    assert result.artifacts_dir is not None
    assert (result.artifacts_dir / payload.artifact).read_bytes().startswith(b"#!")
    assert b"payload-ran" in (result.artifacts_dir.parent / "output.log").read_bytes()
    first = result.events[0]
    assert isinstance(first, ProcessExecuted) and first.path == "/bin/sh"
    assert_nothing_left(result)


def test_privileged_attempts_fail_and_are_reported(busybox_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(busybox_rootfs, tmp_path, "/bin/ptrace-attach; " + scenarios.PRIVILEGED)
    attempts = [e for e in result.events if isinstance(e, PrivilegedAttempt)]
    calls = {e.call for e in attempts}
    assert {"mount", "unshare", "ptrace"} <= calls
    assert calls & {"init_module", "finit_module"}
    written = {e.args for e in attempts if e.call == "write"}
    assert {"/proc/sysrq-trigger", "/sys/fs/cgroup/release_agent"} <= written
    assert not any(e.succeeded for e in attempts)
    assert Path("/proc/sys/kernel/core_pattern").read_text().strip() != "|/tmp/x"
    assert_nothing_left(result)


def test_runc_setup_calls_are_not_reported_as_the_samples(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    # runc's init mounts /proc, /dev …, pivots, sets the hostname and installs seccomp before
    # it becomes the entrypoint: none of that is the sample's, so a benign echo has no
    # privileged attempt and every event belongs to the entrypoint's process tree.
    result = run(busybox_rootfs, tmp_path, "echo benign")
    assert result.run.ended_by == EndReason.EXITED and result.run.exit_code == 0
    assert not [e for e in result.events if isinstance(e, PrivilegedAttempt)]
    first = result.events[0]
    assert isinstance(first, ProcessExecuted) and first.path == "/bin/sh"
    sample_pids = {p.pid for p in result.processes}
    assert {e.pid for e in result.events if e.pid} <= sample_pids
    assert not any("exec.fifo" in str(e) for e in result.events)
    assert_nothing_left(result)


def test_file_changes_and_deletions_come_from_the_upper_dir(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    result = run(busybox_rootfs, tmp_path, scenarios.FILE_OPERATIONS)
    changes = {f.path: f for f in result.files}
    assert changes["/etc/passwd"].change == ChangeKind.DELETED
    assert changes["/etc/motd"].change == ChangeKind.MODIFIED
    assert changes["/tmp/lnk"].content_type == ContentType.SYMLINK
    assert changes["/var/log/new.log"].change == ChangeKind.CREATED
    assert (busybox_rootfs.root / "etc" / "passwd").exists()  # the cached rootfs is untouched


def test_fork_bomb_is_bounded_by_the_pids_limit(busybox_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(busybox_rootfs, tmp_path, scenarios.FORK_BOMB, timeout_seconds=6, pids=64)
    assert result.run.ended_by in (EndReason.TIMEOUT, EndReason.EXITED, EndReason.IDLE)
    assert result.run.duration_seconds < 15
    alive_at_once = max(
        sum(1 for p in result.processes if p.start <= t and (p.end is None or p.end > t))
        for t in [p.start for p in result.processes]
    )
    assert alive_at_once <= 64
    refused = [e for e in result.events if isinstance(e, ProcessForked) and not e.succeeded]
    # On a busy host the bomb may not reach the limit before its `sleep 3` ends; when it does,
    # forks fail with EAGAIN and the report says so.
    assert ("pids" in result.run.limits_hit) == bool(refused)
    assert all(e.error == "EAGAIN" for e in refused)
    assert_nothing_left(result)


def test_unbounded_memory_is_killed_at_the_limit(busybox_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(
        busybox_rootfs, tmp_path, scenarios.MEMORY_HOG, memory_bytes=64 * MiB, timeout_seconds=20
    )
    assert result.run.ended_by == EndReason.EXITED  # long before the timeout
    assert result.run.memory_peak_bytes <= 64 * MiB
    assert any(p.signal == "SIGKILL" for p in result.processes)  # the OOM killer
    assert b"dd-exit=137" in (result.artifacts_dir.parent / "output.log").read_bytes()
    assert result.run.limits_hit == ("memory",)
    assert_nothing_left(result)


def test_disk_fill_stops_at_the_disk_limit(busybox_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(busybox_rootfs, tmp_path, scenarios.DISK_FILL, disk_bytes=16 * MiB)
    (fill,) = [f for f in result.files if f.path == "/tmp/fill"]
    assert fill.size <= 16 * MiB
    assert b"No space left" in (result.artifacts_dir.parent / "output.log").read_bytes()
    assert "disk" in result.run.limits_hit
    assert_nothing_left(result)


def test_spinning_both_cpus_gets_one_cpu_until_the_timeout(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    result = run(busybox_rootfs, tmp_path, scenarios.CPU_SPIN, timeout_seconds=4, cpus=0.5)
    assert result.run.ended_by == EndReason.TIMEOUT
    assert result.run.duration_seconds < 6
    assert result.run.cpu_seconds <= 0.5 * result.run.duration_seconds + 0.5
    # On a busy host the spinners may not even get their quota: then nothing throttled them.
    if result.run.cpu_seconds >= 0.4 * result.run.duration_seconds:
        assert "cpu" in result.run.limits_hit
    assert_nothing_left(result)


def test_a_quiet_server_stops_when_idle(busybox_rootfs: Rootfs, tmp_path: Path) -> None:
    result = run(busybox_rootfs, tmp_path, scenarios.QUIET_SERVER, idle_seconds=2)
    assert result.run.ended_by == EndReason.IDLE
    # before the 20 s timeout, with room for a busy machine's slow start of the server
    assert result.run.duration_seconds < 15
    assert_nothing_left(result)


def test_a_sigkilled_analyser_leaves_leftovers_the_next_run_removes(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    import json
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile

    from detonate.sandbox.leftovers import StateDir
    from detonate.sandbox.watchdog import watchdogs_of

    # Its own state dir: the sweep at the start of every other run on this machine (a suite
    # beside this one) would else remove the leftovers before this test looks at them.
    private = Path(tempfile.mkdtemp(prefix="detonate-test-state-", dir="/run"))
    os.chmod(private, 0o711)  # container root walks to its bundle below it
    child = subprocess.Popen(
        [sys.executable, "-c", _ANALYSER, str(busybox_rootfs.root), str(tmp_path), str(private)],
        cwd=Path(__file__).parent.parent,
    )
    runs = private / "runs"
    deadline = time.monotonic() + 20
    state = None
    while time.monotonic() < deadline and state is None:
        for f in runs.glob("detonate-*.json"):
            s = json.loads(f.read_text())
            if s["owner_pid"] == child.pid and s["tracer_pid"]:
                state = s
        time.sleep(0.1)
    assert state is not None, "the analyser never started its container"
    time.sleep(0.5)
    watchdogs = watchdogs_of(child.pid)
    assert watchdogs, "the analyser has no watchdog"
    for watchdog in watchdogs:  # killed too: else it removes all at once
        os.kill(watchdog, signal.SIGKILL)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    container_id = state["container_id"]
    assert any(container_id in p for p in mounted_paths())  # really left behind
    assert (private / "runc" / container_id).exists()
    assert Path(state["keeper_dir"]).is_dir()  # the time keeper's socket directory

    cleaned = StateDir(private).sweep()  # what the next run does first

    assert container_id in cleaned
    assert not any(container_id in p for p in mounted_paths())
    assert not (private / "runc" / container_id).exists()
    assert not any((c / container_id).exists() for c in CGROUP_ROOT.iterdir())
    assert not Path(state["keeper_dir"]).exists()
    shutil.rmtree(private)
    assert not Path(f"/proc/{state['tracer_pid']}").exists() or (
        Path(f"/proc/{state['tracer_pid']}/cmdline").read_bytes().split(b"\0")[0] != b"strace"
    )


_ANALYSER = """
import sys
from pathlib import Path
from sandbox.busybox_image import FAST, PROGRESS, image_running
from detonate.model.filesystem import Rootfs
from detonate.sandbox.run import detonate
import dataclasses
options = dataclasses.replace(FAST, timeout_seconds=60, idle_seconds=0)
detonate(image_running("/bin/sh", "-c", "nc -l -p 8080"), Rootfs(Path(sys.argv[1]), ()),
         options, Path(sys.argv[2]), PROGRESS, state_dir=Path(sys.argv[3]))
"""


def test_container_root_can_reopen_its_own_stdout(busybox_rootfs: Rootfs, tmp_path: Path) -> None:
    # Official images link their logs to /dev/stdout; container root is host uid 100000.
    result = run(
        busybox_rootfs, tmp_path,
        "ln -s /dev/stdout /tmp/access.log && echo reopened-ok >> /tmp/access.log",
    )  # fmt: skip
    assert result.run.exit_code == 0
    assert b"reopened-ok" in (result.artifacts_dir.parent / "output.log").read_bytes()


# Each attempt of samples/containment/escape-kernel → the error that must stop it.
KERNEL_ESCAPES = {
    "mount host disk": "Operation not permitted",  # seccomp (and no CAP_SYS_ADMIN)
    "mount tmpfs": "Operation not permitted",
    "mknod block device": "Operation not permitted",  # user namespace: no device nodes
    "open block device": "No such file or directory",
    # /proc/sys is owned by the host's root, unmapped in the container's user namespace
    "write /proc/sys/kernel/core_pattern": "Permission denied",
    "write /proc/sys/vm/drop_caches": "Permission denied",
    "write /proc/sysrq-trigger": "No such file or directory",  # masked
    # the cgroup namespace shows no hierarchy root, where release_agent lives
    "write cgroup release_agent": "No such file or directory",
    "write memory cgroup release_agent": "No such file or directory",
    "init_module": "Operation not permitted",
    "finit_module": "Operation not permitted",
    "ptrace attach pid 1": "Operation not permitted",
    "unshare user namespace": "Operation not permitted",
    "clone into new user namespace": "Operation not permitted",
    "setns to pid 1's mount namespace": "Operation not permitted",
    "keyctl join session keyring": "Operation not permitted",
    "add_key": "Operation not permitted",
    "perf_event_open": "Operation not permitted",
    "bpf map create": "Operation not permitted",
    "open_by_handle_at": "Operation not permitted",
    "io_uring_setup": "Operation not permitted",  # as under Docker ≥ 25
    "iopl": "Operation not permitted",
    "reboot": "Operation not permitted",
    "open /dev/kmsg": "No such file or directory",  # only runc's default devices exist
    "open /dev/mem": "No such file or directory",
}
# Allowed, as under Docker (CAP_NET_RAW): a raw ICMPv6 socket. Router advertisements sent with
# it reach only the simulator's end of the veth, where IPv6 is off (escape-everything's raw and
# packet attempts check that nothing arrives on the host: tests/netsim/test_sandboxed_image.py).


def test_kernel_escape_attempts_all_fail_and_are_reported(
    standin_rootfs: Rootfs, tmp_path: Path
) -> None:
    result = run(standin_rootfs, tmp_path, "/bin/escape_kernel")
    assert result.run.exit_code == 0
    assert result.artifacts_dir is not None
    lines = (result.artifacts_dir.parent / "output.log").read_text().splitlines()
    outcomes = dict(line.split(": ", 1) for line in lines if ": " in line)
    assert {name: outcomes.get(name) for name in KERNEL_ESCAPES} == KERNEL_ESCAPES
    assert "/proc/1/root is the container's own root" in lines
    assert "inherited fds beyond stdio: 0" in lines
    attempts = [e for e in result.events if isinstance(e, PrivilegedAttempt)]
    calls = {e.call for e in attempts}
    assert {"mount", "init_module", "finit_module", "ptrace", "unshare", "setns"} <= calls
    assert {"keyctl", "bpf"} <= calls
    assert not any(e.succeeded for e in attempts)
    assert Path("/proc/sys/kernel/core_pattern").read_text().strip() != "|/tmp/x"
    assert_nothing_left(result)


def test_names_pointed_at_loopback_or_metadata_reach_neither_host(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    """127.0.0.1 is the container's own loopback, and a name the sample points at
    169.254.169.254 (its hosts file, as DNS rebinding would) reaches the simulator: never the
    host's services. The simulator's DNS answers neither address for a real metadata name."""
    import socket

    from detonate.model.events import NetworkConnected
    from detonate.model.netevents import DnsQueried, HttpRequested
    from detonate.sandbox.netsim import Simulator

    host_service = socket.socket()  # a service on the host's loopback
    host_service.bind(("127.0.0.1", 0))
    host_service.listen(4)
    host_service.setblocking(False)
    port = host_service.getsockname()[1]
    script = (
        "echo '169.254.169.254 metadata.internal.test' >> /etc/hosts; "
        "wget -q -O - http://metadata.internal.test/latest/meta-data/ > /dev/null; "
        f"echo x | nc 127.0.0.1 {port} || echo loopback-refused; "
        "wget -q -O /dev/null http://metadata.google.internal/; exit 0"
    )
    options = dataclasses.replace(FAST, idle_seconds=3)
    try:
        with Simulator(tmp_path / "net") as network:
            result = detonate(
                image_running("/bin/sh", "-c", script),
                busybox_rootfs, options, tmp_path, PROGRESS, network,
            )  # fmt: skip
        try:
            host_service.accept()
            reached = True
        except BlockingIOError:
            reached = False
    finally:
        host_service.close()
    assert not reached, "the sample reached a service on the host's loopback"
    assert result.artifacts_dir is not None
    assert b"loopback-refused" in (result.artifacts_dir.parent / "output.log").read_bytes()
    (refused,) = [e for e in result.events if isinstance(e, NetworkConnected) and e.port == port]
    assert refused.address == "127.0.0.1" and refused.error == "ECONNREFUSED"  # its own lo
    # answered by the simulator's catch-all, with the destination the sample asked for
    (metadata,) = [e for e in result.events if isinstance(e, HttpRequested) and e.path != "/"]
    assert metadata.dst_ip == "169.254.169.254" and metadata.path == "/latest/meta-data/"
    # the real metadata name resolves to a sinkhole of the simulator, not to the metadata address
    queries = [e for e in result.events if isinstance(e, DnsQueried) and "google" in e.name]
    answers = {a for q in queries for a in q.answers}
    assert answers and not answers & {"169.254.169.254", "127.0.0.1"}
    assert_nothing_left(result)
