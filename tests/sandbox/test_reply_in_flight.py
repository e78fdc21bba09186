"""A reply the simulated internet is slow to make is awaited, not jumped over: the time keeper
does not move the clock while a request of the sample's is unread or being answered, so the
sample's own timeouts do not fire before the reply (on a busy machine the services wait for a
CPU like everyone else; that was a miner's TLS login lost to a jump to its `alarm(30)`)."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from detonate.model.events import WaitTimedOut
from detonate.model.filesystem import Rootfs
from detonate.sandbox.netsim import Simulator
from detonate.sandbox.run import detonate

from .busybox_image import FAST, PROGRESS, image_running

pytestmark = pytest.mark.sandbox

# Real time, far below `read -t 30`: only a jump of the clock could end the read first.
HELD_SECONDS = 1.5


def _hold_services(network: Simulator, init: list[int], held: threading.Event) -> None:
    """Once the sample's network is wired (attach() sets the origin last), stop the services'
    process, then let the sample go (/tmp/go in its root) and keep the services stopped until
    its request has waited unread in their socket for HELD_SECONDS, as on a machine too busy
    to run them. The sample cannot send before the services are stopped, however late this
    thread runs."""
    deadline = time.monotonic() + 120
    created = network.origin
    while (network.origin == created or not init) and time.monotonic() < deadline:
        time.sleep(0.005)
    serve = network._serve
    assert serve is not None and init
    os.kill(serve.pid, signal.SIGSTOP)
    try:
        Path(f"/proc/{init[0]}/root/tmp/go").touch()
        while not _request_unread(serve.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        held.set()
        time.sleep(HELD_SECONDS)
    finally:
        os.kill(serve.pid, signal.SIGCONT)


def _request_unread(pid: int) -> bool:
    """A connection in the services' namespace with bytes they have not read."""
    lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    return any(int(line.split()[4].partition(":")[2], 16) > 0 for line in lines)


def test_a_download_waits_for_services_held_up_longer_than_its_timeout(
    busybox_rootfs: Rootfs, tmp_path: Path
) -> None:
    # `read -t 30` on nc's output: a 30 s timed wait (poll), compressible when nothing would
    # answer sooner; the address is a literal (no DNS to hold up too).
    script = (
        "until [ -e /tmp/go ]; do sleep 0.1; done; "
        "printf 'GET /index.html HTTP/1.0\\r\\nHost: slow.test\\r\\n\\r\\n'"
        ' | nc 203.0.113.80 80 | { read -t 30 status && echo "$status" > /tmp/page; }'
        "; echo rc=$? > /tmp/rc"
    )
    options = dataclasses.replace(FAST, idle_seconds=10)  # the held services are no idleness
    held = threading.Event()
    init: list[int] = []
    with Simulator(tmp_path / "net") as network:
        attach = network.attach

        def attach_and_tell(init_pid: int) -> None:
            attach(init_pid)
            init.append(init_pid)

        network.attach = attach_and_tell  # type: ignore[method-assign]
        holder = threading.Thread(target=_hold_services, args=(network, init, held), daemon=True)
        holder.start()
        result = detonate(
            image_running("/bin/sh", "-c", script), busybox_rootfs, options, tmp_path, PROGRESS,
            network=network,
        )  # fmt: skip
        holder.join()
    assert held.is_set(), "the services were never held"
    assert result.artifacts_dir is not None
    (rc,) = [f for f in result.files if f.path == "/tmp/rc"]
    assert (result.artifacts_dir / rc.artifact).read_text().strip() == "rc=0"
    (page,) = [f for f in result.files if f.path == "/tmp/page"]
    assert (result.artifacts_dir / page.artifact).read_bytes().startswith(b"HTTP/1.1 200")
    assert not [e for e in result.events if isinstance(e, WaitTimedOut)]
