"""Which files IOC extraction reads, and how much of them.

Quiet on real distributions: files owned by dpkg/apk packages, documentation, locales, man
pages and media are skipped, and bytes read are capped per file and in total.
"""

from __future__ import annotations

from collections.abc import Iterator

from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.options import MiB
from detonate.static.packages import package_owned_paths

FILE_BYTES = 4 * MiB  # read at most this much of one file …
TOTAL_BYTES = 256 * MiB  # … and of all files together
NOISE_DIRS = (
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/locale/",
    "/usr/share/i18n/",
    "/usr/lib/locale/",
    "/usr/share/zoneinfo/",
    "/usr/share/common-licenses/",
    "/usr/share/mime/",
    "/usr/share/icons/",
    "/usr/share/fonts/",
    "/usr/share/ca-certificates/",
    "/etc/ssl/certs/",
    "/var/lib/dpkg/",
    "/var/lib/apt/",
    "/var/cache/",
    "/var/log/",
    "/lib/apk/db/",
    "/proc/",
    "/sys/",
)
NOISE_SUFFIXES = (
    ".mo", ".gz", ".xz", ".bz2", ".zst", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".woff",
    ".woff2", ".ttf", ".otf", ".pyc", ".md", ".rst", ".html", ".htm", ".txt", ".pem", ".crt",
)  # fmt: skip


def relevant_files(rootfs: Rootfs) -> Iterator[FileEntry]:
    owned = package_owned_paths(rootfs)
    for entry in rootfs.entries:
        if entry.type is not FileType.FILE or entry.size == 0 or entry.path in owned:
            continue
        if entry.path.startswith(NOISE_DIRS) or entry.path.lower().endswith(NOISE_SUFFIXES):
            continue
        yield entry


def ioc_reads(rootfs: Rootfs) -> list[tuple[FileEntry, int]]:
    """(file, bytes to read) for the relevant files, in index order, until the total is spent:
    min(size, FILE_BYTES) each, less for the one file the budget runs out in."""
    reads = []
    budget = TOTAL_BYTES
    for entry in relevant_files(rootfs):
        if budget <= 0:
            break
        limit = min(entry.size, FILE_BYTES, budget)
        reads.append((entry, limit))
        budget -= limit
    return reads
