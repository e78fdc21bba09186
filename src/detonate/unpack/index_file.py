"""The file index saved beside a cached rootfs, so a second unpack only reads this file.

    {"format": 1, "layers": 3, "bytes_unpacked": 123,
     "entries": [["/bin/sh", 0, "sha256:…", "file", 1234, 493, 0, 0, "", "e3b0…"], …],
     "issues": [[1, "../x", "path-traversal", "'..' in the entry name"], …]}

Entries are rows in FileEntry field order: a Debian rootfs has tens of thousands of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from detonate.model.filesystem import FileEntry, FileType, Rootfs, UnpackIssue

FORMAT = 1


def save_index(path: Path, rootfs: Rootfs) -> None:
    document = {
        "format": FORMAT,
        "layers": rootfs.layers,
        "bytes_unpacked": rootfs.bytes_unpacked,
        "entries": [_row(e) for e in rootfs.entries],
        "issues": [(i.layer_index, i.path, i.kind, i.detail) for i in rootfs.issues],
    }
    # No fsync: the index is written inside the unpack's temporary directory, which is renamed
    # into the cache only after this returns; a torn index just fails to load and is rebuilt.
    with path.open("w", encoding="utf-8") as out:
        json.dump(document, out, separators=(",", ":"))


def _row(e: FileEntry) -> list[object]:
    return [
        e.path,
        e.layer_index,
        e.layer_digest,
        str(e.type),
        e.size,
        e.mode,
        e.uid,
        e.gid,
        e.link_target,
        e.sha256,
    ]


def load_index(path: Path, root: Path) -> Rootfs | None:
    """The saved index, or None when it is missing or from another format."""
    try:
        with path.open(encoding="utf-8") as source:
            document = json.load(source)
        if document.get("format") != FORMAT:
            return None
        entries = tuple(
            FileEntry(p, li, ld, FileType(t), s, m, u, g, lt, sh)
            for p, li, ld, t, s, m, u, g, lt, sh in document["entries"]
        )
        issues = tuple(UnpackIssue(*row) for row in document["issues"])
        return Rootfs(root, entries, issues, document["layers"], document["bytes_unpacked"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
