"""The seam every runtime detector fits: a view of the run in, findings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from detonate.model.events import Event
from detonate.model.filesystem import FileEntry, Rootfs
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
from detonate.static.file_reading import read_head

TEXT_LIMIT = 256 * 1024


@dataclass(frozen=True)
class RunView:
    """Everything a detector may look at. Events are in stream order; `seq` is their id."""

    events: tuple[Event, ...]
    processes: tuple[ProcessInfo, ...] = ()
    files: tuple[FileChange, ...] = ()
    honeytokens: tuple[Honeytoken, ...] = ()
    host_mounts: tuple[HostMount, ...] = ()  # binds served from the fake host tree
    config: ImageConfig = field(default_factory=ImageConfig)
    run: RunInfo | None = None  # how the run went: duration, CPU seconds (mining needs them)
    rootfs: Rootfs | None = None  # the image's files, as unpacked (read only, never run)
    artifacts_dir: Path | None = None  # copies of the files the run created or changed
    # What detectors derive from this run once and share (the correlators' run index). It
    # lives and dies with the view, so concurrent scans never see each other's.
    derived: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def process(self, pid: int) -> ProcessInfo | None:
        for info in self.processes:
            if info.pid == pid:
                return info
        return None

    @cached_property
    def _changes(self) -> dict[str, FileChange]:
        return {change.path: change for change in self.files}

    @cached_property
    def _image_files(self) -> dict[str, FileEntry]:
        return self.rootfs.by_path() if self.rootfs else {}

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
        entry = self._image_files.get(path)
        if entry is None or self.rootfs is None:
            return None
        return read_head(self.rootfs, entry, limit) or None

    def file_text(self, path: str, limit: int = TEXT_LIMIT) -> str | None:
        data = self.file_bytes(path, limit)
        return data.decode("utf-8", "replace") if data is not None else None


class Detector(Protocol):
    name: str  # "download-exec-chain", "stratum-mining", …

    def detect(self, run: RunView) -> tuple[Finding, ...]: ...
