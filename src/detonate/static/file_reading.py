"""Reading rootfs files for analysis: regular files only, never through a final symlink, capped.

The rootfs is image content: it is read as bytes and never executed.
"""

from __future__ import annotations

import os
import stat

from detonate.model.filesystem import FileEntry, FileType, Rootfs


def read_head(rootfs: Rootfs, entry: FileEntry, limit: int) -> bytes:
    """The first `limit` bytes of a regular file; b"" when it is not one or cannot be read."""
    if entry.type is not FileType.FILE:
        return b""
    return read_path_head(rootfs.host_path(entry), limit)


def read_path_head(path: str | os.PathLike[str], limit: int) -> bytes:
    """The first `limit` bytes of the regular file at `path` (a host path from
    `Rootfs.host_path`); b"" when it is not one, is a symlink or cannot be read."""
    if limit <= 0:
        return b""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        # One read of the whole file when it fits (no join of chunks, no second copy).
        first = os.read(fd, min(limit, max(info.st_size, 1)))
        chunks = [first]
        remaining = limit - len(first)
        while remaining > 0 and first:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return first if len(chunks) == 1 else b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)
