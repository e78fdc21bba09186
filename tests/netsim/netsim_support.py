"""A sample network namespace of our own, until tests run real containers: `ip netns add`
plus a sleeping process whose pid stands in for the container's init pid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from detonate.sandbox.netsim import Simulator


def _can_run() -> str:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "iptables", "tcpdump", "nsenter"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return ""


needs_root = pytest.mark.skipif(bool(_can_run()), reason=_can_run() or "ok")


@dataclass
class SampleNetns:
    name: str
    pid: int

    def run(
        self, *command: str, timeout: float = 20, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin if stdin is not None else "",
        )

    def python(
        self, script: str, *args: str, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-c", script, *args, timeout=timeout)


@dataclass
class Wired:
    sim: Simulator
    netns: SampleNetns
    rootfs: Path
