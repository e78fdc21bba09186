"""How the sandbox lets a network simulator into a run (implemented by `sandbox.netsim`)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from detonate.model.events import Event


class NetworkHook(Protocol):
    def prepare(self, rootfs: Path) -> None:
        """Before `runc create`: write resolv.conf, trust bundles … into the run's rootfs."""

    def attach(self, init_pid: int) -> None:
        """After `runc create`, before `runc start`: wire the container's netns (by its pid)."""

    def collect(self, origin: float) -> tuple[Event, ...]:
        """After the container stopped: the network events seen (pid 0 = not yet attributed),
        `ts` in seconds since `origin` (the epoch time the container started)."""

    def close(self) -> None:
        """Always, idempotent: remove namespaces, links, processes."""
