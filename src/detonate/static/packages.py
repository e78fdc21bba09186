"""Which files of a rootfs were installed by the distribution's package manager.

Package-owned files are what every image of that distribution has: IOC extraction and secret
rules skip them to stay quiet on real rootfs trees.
"""

from __future__ import annotations

import threading
import weakref
from fnmatch import fnmatchcase

from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.static.file_reading import read_head

LIST_MAX_BYTES = 16 * 1024 * 1024
DPKG_LISTS = "/var/lib/dpkg/info/*.list"
APK_DB = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")

_cache: dict[int, tuple[weakref.ref[Rootfs], frozenset[str]]] = {}
_lock = threading.Lock()


def package_owned_paths(rootfs: Rootfs) -> frozenset[str]:
    """Paths listed by dpkg or apk, spelled as the rootfs index spells them (usr-merge aware).
    Computed once per Rootfs object."""
    with _lock:  # the content pass and the file rules ask at once: read the lists once
        cached = _cache.get(id(rootfs))
        if cached and cached[0]() is rootfs:
            return cached[1]
        owned = _owned(rootfs)
        key = id(rootfs)

        def forget(ref: weakref.ref[Rootfs]) -> None:  # a service scans many rootfs
            if (known := _cache.get(key)) is not None and known[0] is ref:
                del _cache[key]

        _cache[key] = (weakref.ref(rootfs, forget), owned)
        return owned


def _owned(rootfs: Rootfs) -> frozenset[str]:
    listed: set[str] = set()
    for entry in rootfs.entries:
        if entry.type is not FileType.FILE:
            continue
        if fnmatchcase(entry.path, DPKG_LISTS):
            listed.update(_dpkg_paths(rootfs, entry))
        elif entry.path in APK_DB:
            listed.update(_apk_paths(rootfs, entry))
    if not listed:
        return frozenset()
    aliases = _directory_aliases(rootfs.entries)
    for path in list(listed):
        for alias, real in aliases:
            if path.startswith(alias + "/"):
                listed.add(real + path[len(alias) :])
    return frozenset(listed)


# /var/lib/dpkg/info/coreutils.list: one absolute path a line ("/bin/ls", "/usr/share/doc").
def _dpkg_paths(rootfs: Rootfs, entry: FileEntry) -> list[str]:
    text = read_head(rootfs, entry, LIST_MAX_BYTES).decode("utf-8", "replace")
    return [line for line in text.splitlines() if line.startswith("/")]


# /lib/apk/db/installed: "F:usr/bin" names a directory, the "R:file" lines after it its files.
def _apk_paths(rootfs: Rootfs, entry: FileEntry) -> list[str]:
    text = read_head(rootfs, entry, LIST_MAX_BYTES).decode("utf-8", "replace")
    paths, directory = [], ""
    for line in text.splitlines():
        if line.startswith("F:"):
            directory = line[2:].strip("/")
        elif line.startswith("R:"):
            paths.append("/" + "/".join(p for p in (directory, line[2:]) if p))
    return paths


def _directory_aliases(entries: tuple[FileEntry, ...]) -> list[tuple[str, str]]:
    """Top-level directory symlinks of a merged-/usr system: [("/bin", "/usr/bin"), …]."""
    aliases = []
    for entry in entries:
        if entry.type is FileType.SYMLINK and entry.path.count("/") == 1 and entry.link_target:
            target = entry.link_target.rstrip("/")
            real = target if target.startswith("/") else "/" + target
            if ".." not in real:
                aliases.append((entry.path, real))
    return aliases
