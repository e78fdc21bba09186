"""Which program file an exec really ran, read from the run's rootfs (never executed).

The trace shows the path a process asked for, not what the kernel loaded: `/usr/bin/start.sh`
runs its `#!/bin/sh` interpreter, and busybox re-execs itself as `/proc/self/exe`, which is
the binary behind all that with its symlinks resolved (`/bin/busybox`). The rootfs is read as
it was at the end of the run; every path is resolved inside it (image symlinks may point at
the host's files) and only the first line of a regular file is read.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from pathlib import Path

from detonate.errors import SandboxError
from detonate.sandbox.netsim.rootfs_files import resolve_in_root

SHEBANG_BYTES = 256  # Linux reads at most this much of the `#!` line (BINPRM_BUF_SIZE)
MAX_INTERPRETER_DEPTH = 4  # binfmt_script nests this deep before ELOOP
HASH_CAP_BYTES = 64 * 1024 * 1024  # larger programs get no exe_sha256


class ProgramResolver:
    """Container paths in, container paths out; without a rootfs every path is its own answer."""

    def __init__(self, rootfs: Path | None) -> None:
        self.rootfs = rootfs
        self._real: dict[str, str] = {}
        self._interpreter: dict[str, str] = {}
        self._sha256: dict[str, str] = {}

    def binary(self, path: str) -> str:
        """The file the kernel loads for an exec of `path`: a script's interpreter (nested
        interpreters followed), else `path` itself."""
        for _ in range(MAX_INTERPRETER_DEPTH):
            interpreter = self.interpreter(path)
            if not interpreter:
                return path
            path = interpreter
        return path

    def real_path(self, path: str) -> str:
        """`path` with its symlinks resolved inside the rootfs ("/bin/sh" → "/bin/busybox")."""
        if self.rootfs is None or not path.startswith("/"):
            return path
        if path not in self._real:
            try:
                relative = resolve_in_root(self.rootfs, path).relative_to(self.rootfs)
                inside = relative.as_posix()
                self._real[path] = "/" if inside == "." else "/" + inside
            except (SandboxError, ValueError, OSError):
                self._real[path] = path
        return self._real[path]

    def sha256(self, path: str) -> str:
        """sha256 of the regular file `path` resolves to inside the rootfs, as the run left it;
        "" without a rootfs, for missing, special or larger-than-HASH_CAP_BYTES files."""
        if self.rootfs is None or not path.startswith("/"):
            return ""
        real = self.real_path(path)
        if real not in self._sha256:
            self._sha256[real] = _file_sha256(self.rootfs / real.lstrip("/"))
        return self._sha256[real]

    def interpreter(self, path: str) -> str:
        """`#!/bin/sh -e` → "/bin/sh"; "" for binaries, unreadable or missing files."""
        if self.rootfs is None or not path.startswith("/"):
            return ""
        if path not in self._interpreter:
            self._interpreter[path] = _shebang(self.rootfs / self.real_path(path).lstrip("/"))
        return self._interpreter[path]


def _shebang(host_path: Path) -> str:
    try:
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError):  # ValueError: a NUL in the path (strace wrote "\0")
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        head = os.read(fd, SHEBANG_BYTES)
    except OSError:
        return ""
    finally:
        os.close(fd)
    if not head.startswith(b"#!"):
        return ""
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "surrogateescape").strip()
    interpreter = line.split(maxsplit=1)[0] if line else ""
    return posixpath.normpath(interpreter) if interpreter.startswith("/") else interpreter


def _file_sha256(host_path: Path) -> str:
    try:
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError):  # ValueError: a NUL in the path (strace wrote "\0")
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > HASH_CAP_BYTES:
            return ""
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return ""
    finally:
        os.close(fd)
