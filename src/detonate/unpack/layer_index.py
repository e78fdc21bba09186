"""What one cached layer holds, saved beside its directory: its entries and what it deletes.

    {"format": 2, "entries": [["/bin/sh", "file", 1234, 493, 0, 0, "", "e3b0…"], …],
     "whiteouts": ["/etc/motd"], "opaques": ["/var/cache"], "carried": ["/var"],
     "issues": [["../x", "path-traversal", "'..' in the entry name"], …],
     "entries_seen": 812, "bytes_written": 123456, "largest_file": 9000, "longest_name": 77}

Rows carry no layer index or digest: a layer dir is keyed by its chain id, and the same chain
may come from blobs compressed differently, so those are filled in from the image that loads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from detonate.model.filesystem import FileEntry, FileType, UnpackIssue

FORMAT = 2


@dataclass(frozen=True)
class LayerRecord:
    entries: tuple[FileEntry, ...]  # what this layer adds or changes, with its resolved paths
    whiteouts: tuple[str, ...] = ()  # paths of the layers below this layer deletes
    opaques: tuple[str, ...] = ()  # dirs whose content of the layers below this layer hides
    # Dirs of the layers below this layer wrote into or through (they are in its dir too): an
    # opaque dir above them keeps them, with what this layer put there.
    carried: tuple[str, ...] = ()
    issues: tuple[UnpackIssue, ...] = ()
    # What the limits measured while unpacking it, so a cached layer meets today's limits too.
    entries_seen: int = 0  # tar entries (--max-files)
    bytes_written: int = 0  # regular file bytes (--max-total-bytes)
    largest_file: int = 0  # (--max-file-bytes)
    longest_name: int = 0  # entry name or link target, in bytes (--max-path-bytes)


def dumps(record: LayerRecord) -> bytes:
    document = {
        "format": FORMAT,
        "entries": [
            [e.path, str(e.type), e.size, e.mode, e.uid, e.gid, e.link_target, e.sha256]
            for e in record.entries
        ],
        "whiteouts": sorted(record.whiteouts),
        "opaques": sorted(record.opaques),
        "carried": sorted(record.carried),
        "issues": [(i.path, i.kind, i.detail) for i in record.issues],
        "entries_seen": record.entries_seen,
        "bytes_written": record.bytes_written,
        "largest_file": record.largest_file,
        "longest_name": record.longest_name,
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8", "surrogateescape")


def loads(data: bytes, layer_index: int, layer_digest: str) -> LayerRecord | None:
    """The record, its entries placed at `layer_index`; None when damaged or another format."""
    try:
        document = json.loads(data.decode("utf-8", "surrogateescape"))
        if document.get("format") != FORMAT:
            return None
        entries = tuple(
            FileEntry(p, layer_index, layer_digest, FileType(t), s, m, u, g, lt, sh)
            for p, t, s, m, u, g, lt, sh in document["entries"]
        )
        return LayerRecord(
            entries=entries,
            whiteouts=tuple(str(p) for p in document["whiteouts"]),
            opaques=tuple(str(p) for p in document["opaques"]),
            carried=tuple(str(p) for p in document["carried"]),
            issues=tuple(UnpackIssue(layer_index, *row) for row in document["issues"]),
            entries_seen=int(document["entries_seen"]),
            bytes_written=int(document["bytes_written"]),
            largest_file=int(document["largest_file"]),
            longest_name=int(document["longest_name"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
