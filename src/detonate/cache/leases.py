"""A running scan's lease: the cache items it uses, in a file it keeps locked until it ends.

    <cache_dir>/leases/<pid>-<token>.json   {"pid": 123, "items": ["layer:v2-…", "blob:…"]}
    <cache_dir>/leases/.prune.lock          shared while a scan adds to its lease,
                                            exclusive while prune decides and removes

A lease file whose lock nobody holds belongs to a scan that is gone: prune deletes it. A scan
names an item in its lease (under the shared lock) before it looks the item up, so prune either
removed it before (the scan rebuilds or re-pulls it) or sees it leased (and keeps it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO

LEASES_DIR = "leases"
PRUNE_LOCK = ".prune.lock"


def leases_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / LEASES_DIR


@contextmanager
def prune_lock(cache_dir: Path, exclusive: bool, wait: bool = True) -> Iterator[bool]:
    """Yields False (without the lock) when `wait` is off and someone else holds it."""
    directory = leases_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / PRUNE_LOCK).open("a") as lock:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(lock, mode | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class ScanLease:
    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)
        self.items: set[str] = set()
        self.path = leases_dir(cache_dir) / f"{os.getpid()}-{secrets.token_hex(6)}.json"
        self._file: IO[str] | None = None

    def __enter__(self) -> ScanLease:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w")
        except OSError:
            # A cache dir we cannot write: acquire will say so clearly; nothing to protect.
            return self
        fcntl.flock(self._file, fcntl.LOCK_EX)  # held until the scan ends: the lease is alive
        self._write()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()
            self._file = None

    @contextmanager
    def adding(self) -> Iterator[None]:
        """Hold prune off while the scan acquires what it will name with `hold`."""
        if self._file is None:
            yield
            return
        with prune_lock(self.cache_dir, exclusive=False):
            yield

    def hold(self, items: Iterable[str]) -> None:
        if self._file is None:
            return
        with prune_lock(self.cache_dir, exclusive=False):  # prune never reads a torn lease
            self.items.update(items)
            self._write()

    def _write(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        json.dump({"pid": os.getpid(), "items": sorted(self.items)}, self._file)
        self._file.flush()


def live_items(cache_dir: Path) -> set[str]:
    """The items of every live lease; removes the files of dead ones. Call under prune_lock."""
    held: set[str] = set()
    directory = leases_dir(cache_dir)
    if not directory.is_dir():
        return held
    for lease in directory.glob("*.json"):
        try:
            handle = lease.open("r")
        except FileNotFoundError:
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its scan is running
                # Only its first, empty write is not under the lock we hold: it may be torn.
                with contextlib.suppress(ValueError):
                    held.update(json.load(handle).get("items", []))
                continue
            lease.unlink(missing_ok=True)  # its scan is gone
    return held
