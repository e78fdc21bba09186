"""A killed analyser leaves nothing running (issue 14, item 3): a real `detonate scan` is
SIGKILLed at a stage, and every process, mount, namespace, cgroup and dir of its run must be
gone within seconds (its watchdog does it); Ctrl-C ends the scan with `verdict: error`. When
the watchdog is killed too, the next start cleans up: test_containment's
test_a_sigkilled_analyser_leaves_leftovers_the_next_run_removes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from detonate.factory import LayerSpec, write_oci_archive
from detonate.factory.busybox import busybox_layer
from detonate.factory.spec import FileSpec, ImageSpec
from detonate.sandbox.leftovers import DEFAULT_STATE_DIR, process_start_time
from detonate.unpack.layer_store import MARKER_NAME, TEMP_PREFIX

from .busybox_image import sandbox_available
from .run_traces import RunTraces

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

GONE_WITHIN = 10.0  # seconds from the analyser's death to nothing of its run left

# Busy enough to be watched (a listener, a child, a socket to the simulated internet), and
# never ending by itself within the test.
SERVER = """#!/bin/sh
nc -l -p 8080 &
wget -q -O /dev/null http://c2.example.test/ping
wait
"""


@pytest.fixture(scope="module")
def server_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    spec = ImageSpec(
        name="kill-me",
        layers=(
            busybox_layer(),
            LayerSpec((FileSpec("/start.sh", content=SERVER.encode(), mode=0o755),)),
        ),
        entrypoint=("/start.sh",),
    )
    archive = tmp_path_factory.mktemp("kill-me") / "kill-me.oci.tar"
    write_oci_archive(spec, archive)
    return f"oci-archive:{archive}"


def start_scan(reference: str, tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "detonate", "image", reference, "--no-progress",
        "--cache-dir", str(tmp_path / "cache"), "--format", "json",
        "--output", str(tmp_path / "report.json"), "--timeout", "120", "--idle", "120", *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_while_the_sample_runs_leaves_nothing_within_seconds(
    server_image: str, tmp_path: Path
) -> None:
    scan = start_scan(server_image, tmp_path)
    traces = RunTraces.wait_for(scan)
    time.sleep(0.5)
    scan.kill()
    scan.wait()
    seconds = traces.seconds_until_gone(GONE_WITHIN)
    print(f"SIGKILL → nothing of the run left: {seconds:.2f} s")


# Thousands of processes: the detect stage after the run takes long enough to be caught in.
BUSY = """#!/bin/sh
i=0
while [ $i -lt 1000 ]; do busybox true; i=$((i+1)); done
"""


def test_sigkill_during_detect_leaves_no_work_dir(tmp_path: Path) -> None:
    spec = ImageSpec(
        name="busy",
        layers=(
            busybox_layer(),
            LayerSpec((FileSpec("/start.sh", content=BUSY.encode(), mode=0o755),)),
        ),
        entrypoint=("/start.sh",),
    )
    write_oci_archive(spec, tmp_path / "busy.oci.tar")
    # A thousand traced execs take minutes on a busy machine: the run is cut at 60 s there
    # (still hundreds of processes to judge), and the wait below outlasts that bound.
    scan = start_scan(f"oci-archive:{tmp_path / 'busy.oci.tar'}", tmp_path, "--timeout", "60")
    traces = RunTraces.wait_for(scan, processes=4)
    # The run is torn down (its state removed) while the analyser still works: detect.
    deadline = time.monotonic() + 60 + 120
    while traces.container_ids[0] in {s for s in RunTraces.of(scan.pid).container_ids}:
        assert time.monotonic() < deadline and scan.poll() is None
        time.sleep(0.02)
    assert scan.poll() is None, "the scan ended before it could be killed in detect"
    work_dirs = RunTraces.of(scan.pid).dirs
    assert work_dirs, "no temporary work dir while detecting"
    scan.kill()
    scan.wait()
    traces.dirs += work_dirs
    print(f"SIGKILL in detect → work dir removed: {traces.seconds_until_gone(GONE_WITHIN):.2f} s")


# Thousands of small files: unpacking this layer takes seconds, long enough to be caught in.
def _slow_unpack_image(tmp_path: Path) -> str:
    files = tuple(
        FileSpec(f"/data/{i // 500}/f{i}", content=f"file {i}\n".encode()) for i in range(5000)
    )
    spec = ImageSpec(
        name="slow-unpack",
        layers=(LayerSpec(files), busybox_layer()),
        entrypoint=("/bin/sh", "-c", "sleep 1"),
    )
    write_oci_archive(spec, tmp_path / "slow-unpack.oci.tar")
    return f"oci-archive:{tmp_path / 'slow-unpack.oci.tar'}"


def test_sigkill_during_unpack_leaves_nothing_within_seconds(tmp_path: Path) -> None:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    scan = start_scan(_slow_unpack_image(tmp_path), tmp_path)
    layers = tmp_path / "cache" / "layers"
    deadline = time.monotonic() + 60
    while True:  # a layer being built, and the simulator started ahead of the run
        assert time.monotonic() < deadline, "never caught unpacking"
        assert scan.poll() is None, scan.stderr.read() if scan.stderr else ""
        building = [p for p in layers.glob(f"{TEMP_PREFIX}{scan.pid}-*") if "groups" not in p.name]
        if building and RunTraces.of(scan.pid).namespaces:
            break
        time.sleep(0.02)
    scan.send_signal(signal.SIGSTOP)  # frozen where it is: still in unpack, or not?
    traces = RunTraces.of(scan.pid)
    assert building[0].is_dir() and not (building[0] / MARKER_NAME).exists(), "unpack ended"
    scan.kill()
    scan.wait()
    traces.dirs += building
    seconds = traces.seconds_until_gone(GONE_WITHIN)
    print(f"SIGKILL in unpack → nothing of the run left: {seconds:.2f} s")


@pytest.mark.parametrize("resumed", [False, True], ids=["create-hangs", "create-goes-on"])
def test_sigkill_during_runc_create_leaves_nothing_within_seconds(
    server_image: str, tmp_path: Path, resumed: bool
) -> None:
    scan = start_scan(server_image, tmp_path)
    runc_create, container_id = _wait_for_runc_create(scan)
    # Stopped where it is, so the analyser dies while it creates, however fast runc is here;
    # then left stopped (a create that hangs) or let go on (one that ends after the analyser).
    os.kill(runc_create, signal.SIGSTOP)
    traces = RunTraces.of(scan.pid)
    traces.processes[runc_create] = process_start_time(runc_create)
    assert container_id in traces.container_ids
    scan.kill()
    scan.wait()
    if resumed:
        os.kill(runc_create, signal.SIGCONT)
    seconds = traces.seconds_until_gone(GONE_WITHIN)
    print(f"SIGKILL in runc create ({'resumed' if resumed else 'hung'}) → nothing left: "
          f"{seconds:.2f} s")  # fmt: skip


def _wait_for_runc_create(scan: subprocess.Popen[bytes]) -> tuple[int, str]:
    """The `runc create` of the scan's run (pid, container id), caught while it runs: the
    scan's children are read from /proc at every turn, a millisecond or so."""
    root = str(DEFAULT_STATE_DIR / "runc")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert scan.poll() is None, scan.stderr.read() if scan.stderr else ""
        for child in _children(scan.pid):
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            except OSError:
                continue
            if Path(argv[0].decode()).name != "runc" or b"create" not in argv:
                continue
            if argv[argv.index(b"--root") + 1] == root.encode():  # ours, not another runc
                return child, argv[-1].decode()
        time.sleep(0.001)
    raise AssertionError("no runc create of the scan's run")


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def test_ctrl_c_ends_the_scan_with_verdict_error_and_the_reason(
    server_image: str, tmp_path: Path
) -> None:
    scan = start_scan(server_image, tmp_path)
    traces = RunTraces.wait_for(scan)
    scan.send_signal(signal.SIGINT)
    assert scan.wait(30) == 2  # EXIT_ERROR
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "error"
    assert report["error"]["stage"] == "sandbox"
    assert "interrupted" in report["error"]["message"]
    assert traces.remaining() == []  # torn down before it exited


def test_sigkill_while_pulling_leaves_no_skopeo(tmp_path: Path) -> None:
    with _silent_registry() as port:
        scan = start_scan(f"docker://127.0.0.1:{port}/quiet/image:1", tmp_path)
        skopeo = _wait_for_child(scan, "skopeo")
        start = process_start_time(skopeo)
        scan.kill()
        scan.wait()
        deadline = time.monotonic() + 5
        while process_start_time(skopeo) == start and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_start_time(skopeo) != start, "skopeo outlived the analyser"


def _wait_for_child(scan: subprocess.Popen[bytes], name: str) -> int:
    # The analyser's start before it pulls took 23 s on a busy machine (load 19 on 2 cores):
    # waited for as long as it lives, up to a bound well past that.
    parent = scan.pid
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert scan.poll() is None, scan.stderr.read() if scan.stderr else ""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
            if comm == name and int(rest.split()[1]) == parent:
                return int(entry.name)
        time.sleep(0.05)
    raise AssertionError(f"no {name} under {parent}")


@contextmanager
def _silent_registry() -> Iterator[int]:
    """A TCP port that accepts and never answers: skopeo waits in its TLS handshake."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
