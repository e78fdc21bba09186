"""The seam every runtime detector fits: a view of the run in, findings out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from detonate.model.events import Event
from detonate.model.findings import Finding
from detonate.model.image import ImageConfig
from detonate.model.runtime import (
    ChangeKind,
    FileChange,
    Honeytoken,
    HostMount,
    ProcessInfo,
    RunInfo,
)
from detonate.model.timeline import Timeline

TEXT_LIMIT = 256 * 1024  # the most of one file a detector reads, unless it asks for more
PROGRAM_LIMIT = 8 * 1024 * 1024  # the most of one program file (a binary searched whole)


class ImageFileHeads(Mapping[str, bytes]):
    """An image's files read on demand: path → the first TEXT_LIMIT bytes, and `head` for more
    (a live scan's rootfs; a record's files are a plain mapping of what was read)."""

    def head(self, path: str, limit: int) -> bytes:
        """The first `limit` bytes; KeyError when the image has no regular file there."""
        raise NotImplementedError


@dataclass(frozen=True)
class RunView:
    """Everything a detector may look at. Events are in stream order; `seq` is their id.

    Detectors read files only through `file_bytes`/`file_text`/`image_bytes`, never the disk:
    a view built from a run record (detonate.run_record) must judge as the live run did.
    """

    events: tuple[Event, ...]
    processes: tuple[ProcessInfo, ...] = ()
    files: tuple[FileChange, ...] = ()
    honeytokens: tuple[Honeytoken, ...] = ()
    host_mounts: tuple[HostMount, ...] = ()  # binds served from the fake host tree
    config: ImageConfig = field(default_factory=ImageConfig)
    run: RunInfo | None = None  # how the run went: duration, CPU seconds (mining needs them)
    # The image's files as unpacked (never run), path → the first TEXT_LIMIT bytes of a regular
    # file: read from the rootfs on first use in a live scan, from the record on a rejudge.
    image_files: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    # The sizes of the image's regular files, path → bytes, from the same two sources.
    image_sizes: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    artifacts_dir: Path | None = None  # copies of the files the run created or changed
    # What detectors derive from this run once and share (the correlators' run index). It
    # lives and dies with the view, so concurrent scans never see each other's.
    derived: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)
    # The image paths detectors asked for (image_bytes), in order, with the most bytes asked
    # of each: the run record keeps exactly that much (a shebang sniff is not a whole binary).
    image_paths_read: dict[str, int] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    # The image sizes detectors asked for (image_size) that exist: the run record keeps them.
    image_sizes_read: dict[str, int] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @cached_property
    def timeline(self) -> Timeline:
        """The run's program images (pid, exec generation), each event attributed to one:
        the process model every detector shares (model/timeline.py)."""
        return Timeline.of(self.events, self.processes)

    def process(self, pid: int) -> ProcessInfo | None:
        for info in self.processes:
            if info.pid == pid:
                return info
        return None

    @cached_property
    def _changes(self) -> dict[str, FileChange]:
        return {change.path: change for change in self.files}

    def image_bytes(self, path: str, limit: int = TEXT_LIMIT) -> bytes | None:
        """What `path` held in the image (before the run), capped at `limit`; None when the
        image has no regular file there or it is empty."""
        self.image_paths_read[path] = max(limit, self.image_paths_read.get(path, 0))
        try:
            if limit > TEXT_LIMIT and isinstance(self.image_files, ImageFileHeads):
                data = self.image_files.head(path, limit)
            else:
                data = self.image_files[path]
        except KeyError:
            return None
        return data[:limit] or None

    def image_size(self, path: str) -> int | None:
        """The size of the image's regular file at `path` (before the run); None if none."""
        size = self.image_sizes.get(path)
        if size is not None:
            self.image_sizes_read[path] = size
        return size

    def file_bytes(self, path: str, limit: int = TEXT_LIMIT) -> bytes | None:
        """What `path` held at the end of the run (the run's copy if it wrote the file, else the
        image's), capped at `limit`; None when it is gone, not a regular file, or unknown."""
        change = self._changes.get(path)
        if change is not None:
            if change.change is ChangeKind.DELETED or not change.artifact or not self.artifacts_dir:
                return None
            try:
                with open(self.artifacts_dir / change.artifact, "rb") as handle:
                    return handle.read(limit)
            except OSError:
                return None
        return self.image_bytes(path, limit)

    def file_text(self, path: str, limit: int = TEXT_LIMIT) -> str | None:
        data = self.file_bytes(path, limit)
        return data.decode("utf-8", "replace") if data is not None else None


class Detector(Protocol):
    name: str  # "download-exec-chain", "stratum-mining", …

    def detect(self, run: RunView) -> tuple[Finding, ...]: ...
