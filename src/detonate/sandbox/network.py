"""How the sandbox lets a network simulator into a run (implemented by `sandbox.netsim`)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from detonate.model.events import Event


class NetworkHook(Protocol):
    @property
    def container_address(self) -> str:
        """The container's own address on its link ("10.131.7.2"): local, never remote."""

    def prepare(self, rootfs: Path, hostname: str = "") -> None:
        """Before `runc create`: write resolv.conf, trust bundles … into the run's rootfs;
        `hostname` is the container's, answered with its own address, not a sinkhole."""

    def attach(self, init_pid: int) -> None:
        """After `runc create`, before `runc start`: wire the container's netns (by its pid)."""

    def answering(self) -> bool:
        """A request of the sample's is unread or being answered (the time keeper does not
        jump the clock meanwhile); asked from the keeper's thread while the sample runs."""

    def collect(self, origin: float) -> tuple[Event, ...]:
        """After the container stopped: the network events seen (pid 0 = not yet attributed),
        `ts` in seconds since `origin` (the epoch time the container started)."""

    def close(self) -> None:
        """Always, idempotent: remove namespaces, links, processes."""
