"""What `unpack` hands on: a rootfs on disk and an index of every file in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class FileType(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"


@dataclass(frozen=True)
class FileEntry:
    """One path of the final (merged) filesystem, as the tar header described it."""

    path: str  # absolute inside the image: "/usr/bin/env"
    layer_index: int  # 0 = bottom layer
    layer_digest: str
    type: FileType
    size: int
    mode: int  # permission bits incl. setuid/setgid/sticky, as in the tar header
    uid: int
    gid: int
    link_target: str = ""  # symlink target, or hardlink source path
    sha256: str = ""  # regular files only

    @property
    def is_executable(self) -> bool:
        return self.type in (FileType.FILE, FileType.HARDLINK) and bool(self.mode & 0o111)


@dataclass(frozen=True)
class UnpackIssue:
    """A hostile or unusual tar entry that was refused or neutralised; becomes a finding."""

    layer_index: int
    path: str  # name as written in the tar entry
    kind: str  # "absolute-path", "path-traversal", "link-escape", "device-node", …
    detail: str


@dataclass(frozen=True)
class Rootfs:
    root: Path = field(compare=False)  # the merged tree on disk (never executed on the host)
    entries: tuple[FileEntry, ...]  # sorted by path
    issues: tuple[UnpackIssue, ...] = ()
    layers: int = 0
    bytes_unpacked: int = 0

    def by_path(self) -> dict[str, FileEntry]:
        return {e.path: e for e in self.entries}

    def host_path(self, entry: FileEntry) -> Path:
        """Where `entry` lives on disk; only for reading, never for running."""
        return self.root / entry.path.lstrip("/")
