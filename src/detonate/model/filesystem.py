"""What `unpack` hands on: a rootfs on disk and an index of every file in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
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
    """The image's files: one merged tree at `root`, or (from unpack) one read-only directory
    per layer, `layer_dirs[i]` holding what layer i added, with overlay whiteouts for what it
    deleted. An overlay mount of the layer dirs is the image's tree; nothing merges them on disk.
    """

    root: Path = field(compare=False)  # the merged tree, or the top layer's dir when layered
    entries: tuple[FileEntry, ...]  # sorted by path
    issues: tuple[UnpackIssue, ...] = ()
    layers: int = 0
    bytes_unpacked: int = 0
    layer_dirs: tuple[Path, ...] = field(default=(), compare=False)  # bottom first

    def by_path(self) -> dict[str, FileEntry]:
        return {e.path: e for e in self.entries}

    def host_path(self, entry: FileEntry) -> Path:
        """Where `entry`'s bytes live on disk; only for reading, never for running.

        The one way to reach a file's bytes: in a layered rootfs they are in the dir of the
        layer that wrote the entry (`entry.layer_index`), not under `root`."""
        relative = entry.path.lstrip("/")
        if self.layer_dirs:
            return self.layer_dirs[entry.layer_index] / relative
        return self.root / relative

    def host_path_text(self, entry: FileEntry) -> str:
        """`host_path` as a string, for reading many files: a Path object per file cost more
        than the rest of listing ten thousand files for the scanners."""
        roots = self._host_roots
        root = roots[entry.layer_index] if self.layer_dirs else roots[0]
        return f"{root}/{entry.path.lstrip('/')}"

    @cached_property
    def _host_roots(self) -> tuple[str, ...]:
        return tuple(str(d) for d in self.layer_dirs) or (str(self.root),)

    @property
    def lower_dirs(self) -> tuple[Path, ...]:
        """The overlay lower dirs of this rootfs, top first (as overlayfs's lowerdir= wants)."""
        return tuple(reversed(self.layer_dirs)) if self.layer_dirs else (self.root,)
