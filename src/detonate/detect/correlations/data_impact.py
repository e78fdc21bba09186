"""Impact on data: files encrypted for ransom (T1486) and files destroyed (T1485).

Judged on the files the image shipped (the rootfs index: what existed before the run) and on
what the run left of them (the filesystem diff and its copies of the files written):

encrypted  a pre-existing file removed (deleted, or renamed away) or rewritten in place, and in
           its place random-looking bytes in no known compressed, archive or media format: at
           the same path, at the rename's new name, or in a new file beside it whose name
           extends the old one ("x.csv" → "x.csv.locked") or swaps its extension ("x.enc");
           for at least MIN_FILES files.
destroyed  a pre-existing file overwritten in place (opened for writing without O_APPEND, so
           its bytes are replaced or truncated) and then deleted, or left holding one repeated
           byte (zeros); for at least MIN_FILES files. Overwriting what is about to be deleted
           only makes sense to keep it from being recovered.

The line between encryption and compression is the format: gzip, xz, zip, zstd … start with
their magic bytes, a cipher's output does not. So a backup job that gzips files and removes
the originals is not ransomware, while one that encrypts files in place with a headerless
cipher and deletes the originals is indistinguishable from it. Not seen: encryption that
writes a known header, armoured (base64) output, files renamed to names unrelated to the old
ones, and files the sample itself created in the run; logs are left to the log-wiping rules.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from detonate.detect.correlations.byte_shape import (
    known_format,
    looks_encrypted,
    one_repeated_byte,
)
from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.places import PACKAGE_MANAGERS, SCRATCH_LOCATIONS, under
from detonate.detect.correlations.run_index import RunIndex, index_of, program
from detonate.detect.interface import RunView
from detonate.model.events import (
    Event,
    FileDeleted,
    FileOpenedForWrite,
    FileRenamed,
)
from detonate.model.findings import Evidence, Finding
from detonate.model.runtime import ChangeKind

NAME = "data-impact"
MIN_FILES = 3
MAX_EVIDENCE = 20
READ_BYTES = 64 * 1024
NOTE_BYTES = 4096
# Log wiping has its own rules (file-system-log-wipe, file-log-rewrite).
LEFT_OUT = (*SCRATCH_LOCATIONS, "/var/log")


@dataclass
class _Touched:
    """What the run did to the image's files, and which files it made."""

    overwritten: dict[str, FileOpenedForWrite] = field(default_factory=dict)
    deleted: dict[str, FileDeleted] = field(default_factory=dict)
    moved: dict[str, FileRenamed] = field(default_factory=dict)
    made: dict[str, FileOpenedForWrite] = field(default_factory=dict)  # new files, first write


class DataImpact:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        # The image's own regular files among those the run wrote, deleted or moved.
        shipped = {
            path: size
            for path in _paths_touched(run)
            if (size := run.image_size(path)) and not under(path, LEFT_OUT)
        }
        if len(shipped) < MIN_FILES:
            return ()
        index = index_of(run)
        touched = _touched(index, shipped)
        found = []
        encrypted = _encrypted(run, index, shipped, touched)
        if len(encrypted) >= MIN_FILES:
            evidence = encrypted + _notes(run, index, touched, encrypted)
            found.append(finding("files-encrypted-for-impact", NAME, evidence[:MAX_EVIDENCE]))
        destroyed = _destroyed(run, index, shipped, touched)
        if len(destroyed) >= MIN_FILES:
            found.append(finding("files-destroyed", NAME, destroyed[:MAX_EVIDENCE]))
        return tuple(found)


def _paths_touched(run: RunView) -> set[str]:
    return {
        e.path
        for e in run.events
        if isinstance(e, FileOpenedForWrite | FileDeleted | FileRenamed) and e.succeeded
    }


def _touched(index: RunIndex, shipped: dict[str, int]) -> _Touched:
    touched = _Touched()
    installing = _Installers(index)
    for event in index.events:
        if not isinstance(event, FileOpenedForWrite | FileDeleted | FileRenamed):
            continue
        if not event.succeeded or installing.by(event.pid):
            continue
        if isinstance(event, FileOpenedForWrite):
            if event.path in shipped and not event.append:
                touched.overwritten.setdefault(event.path, event)
            elif event.path not in shipped:
                touched.made.setdefault(event.path, event)
        elif isinstance(event, FileDeleted) and event.path in shipped:
            touched.deleted.setdefault(event.path, event)
        elif isinstance(event, FileRenamed) and event.path in shipped:
            touched.moved.setdefault(event.path, event)
    return touched


class _Installers:
    """Pids that are, or descend from, a package manager at some point of the run: their
    changes to the image's files are installs and upgrades. Judged once per pid (a run can
    have a million file events): a script that ends by exec'ing apt-get counts as one."""

    def __init__(self, index: RunIndex) -> None:
        self.index = index
        self.managers = {
            pid
            for pid, proc in index.procs.items()
            if any(
                e.succeeded and program(e.argv, e.exe, e.applet) in PACKAGE_MANAGERS
                for e in proc.execs
            )
        }
        self.known: dict[int, bool] = {}

    def by(self, pid: int) -> bool:
        if pid not in self.known:
            self.known[pid] = any(p in self.managers for p in self.index.ancestors(pid))
        return self.known[pid]


@dataclass(frozen=True)
class _Replacement:
    path: str  # where the old file's content went
    how: str  # "renamed to", "deleted, replaced by", "rewritten in place as"
    events: tuple[Event, ...]  # the write and the removal, in order


def _encrypted(
    run: RunView, index: RunIndex, shipped: dict[str, int], touched: _Touched
) -> list[Evidence]:
    out = []
    named_after = _names_after(touched.made.values())
    for path in sorted({*touched.deleted, *touched.moved, *touched.overwritten}):
        replacement = _replacement(index, path, touched, named_after)
        if replacement is None:
            continue
        data = run.file_bytes(replacement.path, READ_BYTES)
        if data is None or not looks_encrypted(data):
            continue
        change = index.files.get(replacement.path)
        size = change.size if change is not None else len(data)
        last = replacement.events[-1]
        out.append(
            Evidence(
                description=f"{path} ({shipped[path]} bytes) {replacement.how} "
                f"{replacement.path} ({size} bytes of random-looking data in no known format)",
                path=replacement.path,
                sha256=change.sha256 if change is not None else "",
                event_ids=tuple(e.seq for e in replacement.events),
                process=index.chain(last.pid, last.seq) if last.pid in index.procs else (),
            )
        )
    return out


def _replacement(
    index: RunIndex,
    path: str,
    touched: _Touched,
    named_after: dict[tuple[str, str], FileOpenedForWrite],
) -> _Replacement | None:
    """Where `path`'s content went, when the run shows it."""
    moved = touched.moved.get(path)
    if moved is not None:
        written = touched.made.get(moved.new_path) or touched.overwritten.get(path)
        events = sorted((moved, *((written,) if written else ())), key=lambda e: e.seq)
        return _Replacement(moved.new_path, "renamed to", tuple(events))
    deleted = touched.deleted.get(path)
    if deleted is not None:
        sibling = _sibling(path, named_after)
        if sibling is None:
            return None
        events = sorted((sibling, deleted), key=lambda e: e.seq)
        return _Replacement(sibling.path, "deleted, replaced by", tuple(events))
    change = index.files.get(path)
    if change is None or change.change is not ChangeKind.MODIFIED:
        return None  # opened for writing, but its bytes are the image's
    return _Replacement(path, "rewritten in place as", (touched.overwritten[path],))


def _names_after(made: Iterable[FileOpenedForWrite]) -> dict[tuple[str, str], FileOpenedForWrite]:
    """New files by (folder, each name they extend): "x.csv.locked" under "x" and "x.csv"."""
    out: dict[tuple[str, str], FileOpenedForWrite] = {}
    for event in made:
        folder, name = posixpath.split(event.path)
        parts = name.split(".")
        for end in range(1, len(parts)):
            out.setdefault((folder, ".".join(parts[:end])), event)
    return out


def _sibling(
    path: str, named_after: dict[tuple[str, str], FileOpenedForWrite]
) -> FileOpenedForWrite | None:
    """A new file beside `path` named after it: "x.csv.locked" (extends the name) or "x.enc"
    (the same stem, another extension) for "x.csv"."""
    folder, name = posixpath.split(path)
    stem = name.split(".", 1)[0]
    return named_after.get((folder, name)) or (named_after.get((folder, stem)) if stem else None)


def _notes(
    run: RunView, index: RunIndex, touched: _Touched, encrypted: list[Evidence]
) -> list[Evidence]:
    """New text files left in the folders of the encrypted ones (a ransom note, often)."""
    folders = {posixpath.dirname(e.path) for e in encrypted}
    replacements = {e.path for e in encrypted}
    out = []
    for path, event in touched.made.items():
        if path in replacements or posixpath.dirname(path) not in folders:
            continue
        data = run.file_bytes(path, NOTE_BYTES)
        if not data or known_format(data) or not _printable(data):
            continue
        first = data.decode("utf-8", "replace").strip().splitlines()[0][:200]
        out.append(
            Evidence(
                description=f"text file written beside the encrypted files: {path}",
                path=path,
                excerpt=first,
                event_ids=(event.seq,),
                process=index.chain(event.pid, event.seq) if event.pid in index.procs else (),
            )
        )
    return out[:3]


def _printable(data: bytes) -> bool:
    text = data.decode("utf-8", "replace")
    return sum(c.isprintable() or c in "\n\r\t" for c in text) >= 0.95 * len(text)


def _destroyed(
    run: RunView, index: RunIndex, shipped: dict[str, int], touched: _Touched
) -> list[Evidence]:
    out = []
    for path, write in sorted(touched.overwritten.items()):
        deleted = touched.deleted.get(path)
        how = "truncated" if write.truncated else "overwritten in place"
        if deleted is not None and deleted.seq > write.seq:
            ids: tuple[int, ...] = (write.seq, deleted.seq)
            what = f"{how}, then deleted"
        else:
            change = index.files.get(path)
            if change is None or change.change is ChangeKind.DELETED:
                continue
            data = run.file_bytes(path, READ_BYTES)
            if data is None or not one_repeated_byte(data):
                continue
            ids, what = (write.seq,), f"{how}: left holding {change.size} bytes of {data[0]:#04x}"
        out.append(
            Evidence(
                description=f"{path} ({shipped[path]} bytes, shipped in the image) {what}",
                path=path,
                event_ids=ids,
                process=index.chain(write.pid, write.seq) if write.pid in index.procs else (),
            )
        )
    return out
