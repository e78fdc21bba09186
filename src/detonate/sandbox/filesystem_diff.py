"""The overlay upper dir → files created, modified and deleted, copied out as artifacts.

Only reads: nothing in the upper dir is ever executed or followed (symlinks are recorded with
their target, not resolved; files are opened with O_NOFOLLOW).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Set as AbstractSet
from pathlib import Path

from detonate.model.options import MiB
from detonate.model.runtime import ChangeKind, ContentType, FileChange

ARTIFACT_FILE_CAP = 64 * MiB  # bytes kept of one file
ARTIFACT_TOTAL_CAP = 256 * MiB  # bytes kept of one run
_CHUNK = 1 << 20

_ARCHIVE_MAGIC = (
    b"\x1f\x8b",  # gzip
    b"PK\x03\x04",  # zip, jar
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"7z\xbc\xaf\x27\x1c",  # 7z
    b"\x28\xb5\x2f\xfd",  # zstd
    b"Rar!",
)


def content_type(head: bytes) -> ContentType:
    if head.startswith(b"\x7fELF"):
        return ContentType.ELF
    if head.startswith(b"#!"):
        return ContentType.SCRIPT
    if head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar":
        return ContentType.ARCHIVE
    return ContentType.OTHER


Snapshot = dict[str, tuple[int, int, int, int]]
Lower = Path | AbstractSet[str]  # a merged tree on disk, or the set of the image's paths


def _in_lower(lower: Lower, path: str) -> bool:
    if isinstance(lower, Path):
        return os.path.lexists(lower / path.lstrip("/"))
    return path in lower


def _fingerprint(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)


def snapshot_upper(upper: Path) -> Snapshot:
    """Path → (mode, size, mtime, inode) of everything in `upper` now (before the sample runs)."""
    snapshot: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(upper):
        for name in dirnames + filenames:
            host = Path(dirpath) / name
            snapshot["/" + str(host.relative_to(upper))] = _fingerprint(host.lstat())
    return snapshot


def diff_upper(
    upper: Path,
    lower: Lower,
    executed: frozenset[str],
    artifacts: Path | None,
    setup: Snapshot | None = None,
) -> tuple[FileChange, ...]:
    """Walk `upper`; `lower` (the image's paths, or a merged tree) tells created from
    modified; `executed` marks what ran; entries unchanged since the `setup` snapshot (taken
    before the sample started) are left out."""
    budget = [ARTIFACT_TOTAL_CAP]
    changes: list[FileChange] = []
    setup = setup or {}
    for dirpath, dirnames, filenames in os.walk(upper):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            host = Path(dirpath) / name
            path = "/" + str(host.relative_to(upper))
            before = setup.get(path)
            if before == _fingerprint(host.lstat()):
                continue
            change = _change(host, path, lower, before is not None, executed, artifacts, budget)
            if change is not None:
                changes.append(change)
    for path in setup:
        # Gone without a whiteout: only what the setup made (not in lower) vanishes this way.
        if not os.path.lexists(upper / path.lstrip("/")) and not _in_lower(lower, path):
            changes.append(FileChange(path, ChangeKind.DELETED, ContentType.NONE))
    return tuple(sorted(changes, key=lambda c: c.path))


def _change(
    host: Path,
    path: str,
    lower: Lower,
    set_up: bool,
    executed: frozenset[str],
    artifacts: Path | None,
    budget: list[int],
) -> FileChange | None:
    st = host.lstat()
    # what the setup put there (a honeytoken, its directory) existed before the sample ran
    in_lower = set_up or _in_lower(lower, path)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return FileChange(path, ChangeKind.DELETED, ContentType.NONE)  # whiteout
    kind = ChangeKind.MODIFIED if in_lower else ChangeKind.CREATED
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        # Directories copied up only because something below changed are not changes.
        return None if in_lower else FileChange(path, kind, ContentType.DIR, mode=mode)
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(host)
        return FileChange(path, kind, ContentType.SYMLINK, mode=mode, link_target=target)
    if not stat.S_ISREG(st.st_mode):
        return FileChange(path, kind, ContentType.OTHER, mode=mode)
    digest, head, artifact, truncated = _hash_and_copy(host, artifacts, budget)
    return FileChange(
        path=path,
        change=kind,
        content_type=content_type(head),
        size=st.st_size,
        mode=mode,
        sha256=digest,
        executed=path in executed,
        artifact=artifact,
        artifact_truncated=truncated,
    )


def _hash_and_copy(
    host: Path, artifacts: Path | None, budget: list[int]
) -> tuple[str, bytes, str, bool]:
    """sha256 and head of the file; its first bytes (within the caps) copied to the artifacts
    under their digest. Streamed: the analyser holds one chunk, whatever the file's size."""
    sha = hashlib.sha256()
    head = b""
    kept = 0
    allowance = min(ARTIFACT_FILE_CAP, budget[0]) if artifacts else 0
    truncated = False
    partial = artifacts / f".partial-{os.getpid()}-{threading.get_ident()}" if artifacts else None
    fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as src, contextlib.ExitStack() as stack:
        out = stack.enter_context(open(partial, "wb")) if partial and allowance else None
        while chunk := src.read(_CHUNK):
            if not head:
                head = chunk[:512]
            sha.update(chunk)
            if out is not None and kept < allowance:
                piece = chunk[: allowance - kept]
                out.write(piece)
                kept += len(piece)
                truncated = truncated or len(piece) < len(chunk)
            elif artifacts:
                truncated = True
    digest = sha.hexdigest()
    if not artifacts or partial is None or (kept == 0 and truncated):
        if partial is not None:
            partial.unlink(missing_ok=True)
        return digest, head, "", truncated
    budget[0] -= kept
    name = digest
    target = artifacts / name
    if target.exists():
        partial.unlink(missing_ok=True)
    else:
        if not partial.exists():
            partial.touch()  # an empty file, or a zero allowance
        partial.replace(target)
        os.chmod(target, 0o400)  # evidence, never to be run
    return digest, head, name, truncated
