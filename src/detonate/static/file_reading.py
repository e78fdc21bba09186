"""Reading rootfs files for analysis: regular files only, never through a final symlink, capped.

The rootfs is image content: it is read as bytes and never executed.
"""

from __future__ import annotations

import os
import stat

from detonate.model.filesystem import FileEntry, FileType, Rootfs


def read_head(rootfs: Rootfs, entry: FileEntry, limit: int) -> bytes:
    """The first `limit` bytes of a regular file; b"" when it is not one or cannot be read."""
    if entry.type is not FileType.FILE or limit <= 0:
        return b""
    try:
        fd = os.open(rootfs.host_path(entry), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        chunks = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)
