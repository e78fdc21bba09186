"""The `runc` command line, with our own state root so our containers never mix with others'."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from detonate.errors import SandboxError

CONTAINER_PREFIX = "detonate-"  # every container, cgroup and run dir we make starts with this


@dataclass(frozen=True)
class Runc:
    root: Path  # runc --root: its state directory

    def _run(self, *args: str, timeout: float = 30, check: bool = True) -> str:
        return self._call(*args, timeout=timeout, check=check)[1]

    def _call(self, *args: str, timeout: float = 30, check: bool = True) -> tuple[int, str]:
        try:
            done = subprocess.run(
                ["runc", "--root", str(self.root), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"runc {args[0]} failed: {exc}") from exc
        if check and done.returncode != 0:
            raise SandboxError(
                f"runc {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}",
                hint="runc must be installed and the analyser must run as root",
            )
        return done.returncode, done.stdout

    def create(self, container_id: str, bundle: Path, output: IO[bytes], pid_file: Path) -> int:
        """Create (not start) the container; its init waits for `start`. Returns the init pid.

        The container inherits runc's stdio: stdout and stderr go to `output`.
        """
        log = bundle / "runc.log"
        try:
            done = subprocess.run(
                ["runc", "--root", str(self.root), "--log", str(log), "create",
                 "--bundle", str(bundle), "--pid-file", str(pid_file), container_id],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                timeout=60,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"runc create failed: {exc}") from exc
        if done.returncode != 0:
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SandboxError(
                f"runc create failed (exit {done.returncode}): {detail.strip()}",
                hint="runc must be installed and the analyser must run as root",
            )
        return int(pid_file.read_text().strip())

    def start(self, container_id: str) -> None:
        self._run("start", container_id)

    def state(self, container_id: str) -> dict[str, Any] | None:
        out = self._run("state", container_id, check=False)
        try:
            state: dict[str, Any] = json.loads(out)
        except json.JSONDecodeError:
            return None
        return state

    def kill(self, container_id: str, signal: str = "KILL") -> None:
        self._run("kill", "--all", container_id, signal, check=False)

    def delete(self, container_id: str) -> bool:
        """Kill and remove the container; True once runc says it is gone."""
        return self._call("delete", "--force", container_id, check=False)[0] == 0

    def list_ids(self) -> list[str]:
        if not self.root.exists():
            return []
        out = self._run("list", "--format", "json", check=False)
        try:
            items = json.loads(out) or []
        except json.JSONDecodeError:
            return []
        return [str(item["id"]) for item in items]
