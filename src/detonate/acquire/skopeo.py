"""ImageSource over `skopeo` (Debian package): every transport users know, standard auth files."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from detonate.acquire.interface import ImageSource
from detonate.acquire.reference import Reference
from detonate.acquire.skopeo_errors import map_skopeo_error
from detonate.errors import AcquireError, RegistryUnreachable
from detonate.model.image import Platform
from detonate.model.options import AcquireOptions
from detonate.progress import Progress

PULL_TASK = "pull"


class SkopeoSource(ImageSource):
    def __init__(self, options: AcquireOptions, skopeo: str = "skopeo") -> None:
        self.options = options
        self.skopeo = skopeo
        self.copies = 0  # how many `skopeo copy` ran: tests use it to prove the cache works

    def raw_manifest(self, reference: Reference) -> bytes:
        command = [self._binary(), "inspect", "--raw", "--retry-times", "0"]
        command += self._source_flags(reference, prefix="")
        return self._run([*command, str(reference)], f"looking up {reference}")

    def raw_config(self, reference: Reference) -> bytes:
        command = [self._binary(), "inspect", "--config", "--raw", "--retry-times", "0"]
        command += self._source_flags(reference, prefix="")
        return self._run([*command, str(reference)], f"reading the config of {reference}")

    def copy(
        self,
        reference: Reference,
        layout: Path,
        ref_name: str,
        platform: Platform,
        progress: Progress,
    ) -> None:
        command = [self._binary(), *self._platform_flags(platform), "copy", "--retry-times", "0"]
        command += self._source_flags(reference, prefix="src-")
        command += [str(reference), f"oci:{layout}:{ref_name}"]
        self.copies += 1
        self._run(command, f"pulling {reference}", progress)

    def _binary(self) -> str:
        path = shutil.which(self.skopeo)
        if path is None:
            raise AcquireError("skopeo is not installed", "apt-get install skopeo")
        return path

    @staticmethod
    def _platform_flags(platform: Platform) -> list[str]:
        flags = ["--override-os", platform.os, "--override-arch", platform.architecture]
        if platform.variant:
            flags += ["--override-variant", platform.variant]
        return flags

    def _source_flags(self, reference: Reference, prefix: str) -> list[str]:
        if reference.transport != "docker":
            return []
        flags = []
        if not self.options.tls_verify:
            # also what lets skopeo talk plain HTTP to a local registry
            flags.append(f"--{prefix}tls-verify=false")
        if self.options.auth_file is not None:
            flags += [f"--{prefix}authfile", str(self.options.auth_file)]
        # One argument with "=": a secret that starts with "-" cannot be read as a flag.
        if self.options.creds:
            flags.append(f"--{prefix}creds={self.options.creds}")
        if self.options.registry_token:
            flags.append(f"--{prefix}registry-token={self.options.registry_token}")
        return flags

    def _run(self, command: list[str], what: str, progress: Progress | None = None) -> bytes:
        """Run skopeo; stdout is returned (and, with progress, its "Copying blob" lines are
        counted as they come); a non-zero exit becomes an AcquireError from stderr."""
        with tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                _dies_with_us(command),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
            timed_out = threading.Event()

            def kill() -> None:
                timed_out.set()
                process.kill()

            timer = threading.Timer(self.options.timeout_seconds, kill)
            timer.start()
            try:
                assert process.stdout is not None
                chunks = []
                for line in process.stdout:
                    chunks.append(line)
                    # "Copying blob sha256:e0c0…" / "Copying config sha256:8945…"
                    if progress is not None and line.startswith(b"Copying "):
                        progress.advance(PULL_TASK)
                code = process.wait()
            finally:
                timer.cancel()
            if code != 0:
                if timed_out.is_set():
                    raise RegistryUnreachable(
                        f"{what}: no answer within {self.options.timeout_seconds} s",
                        "check the registry, or raise the timeout",
                    )
                stderr.seek(0)
                raise map_skopeo_error(stderr.read().decode(errors="replace"), what)
            return b"".join(chunks)


def _dies_with_us(command: list[str]) -> list[str]:
    """skopeo gets SIGKILL when the thread that started it ends: a killed analyser leaves no
    pull running (util-linux `setpriv`; the signal survives its exec of skopeo)."""
    if shutil.which("setpriv") is None:
        return command
    return ["setpriv", "--pdeathsig", "KILL", "--", *command]
