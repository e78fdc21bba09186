"""A download whose content the image pinned: the sha256 of the file that ran is written in
the program that fetched it (its script's tree: a manifest, a lock file, the script itself),
in its command line or in the image's environment. An updater that checks a pinned digest
before running its download runs bytes the image author chose, not bytes a server chose.

Known limit: a dropper can pin its own payload too; a pinned download-and-run is lowered
(medium), not cleared, and what the program then does is judged as usual.
"""

from __future__ import annotations

import posixpath

from detonate.detect.correlations.run_index import RunIndex, is_interpreter_name, is_shell_name
from detonate.detect.interface import RunView
from detonate.detect.provenance.embedded import (
    BINARY_PROBE,
    FILE_BYTES,
    SYSTEM_DIRS,
    program_files,
    tree,
)

MAX_FILES = 400
READ_BUDGET = 4 * 1024 * 1024
MAX_DEPTH = 8  # ancestors looked at


def pinned(run: RunView, index: RunIndex, pid: int, digest: str) -> str:
    """Where the image pins `digest` for the program `pid` or its ancestors, "" if nowhere."""
    if not digest:
        return ""
    digest = digest.lower()
    if any(digest in item.lower() for item in run.config.env):
        return "the image's environment"
    budget = READ_BUDGET
    seen: set[int] = set()
    for _ in range(MAX_DEPTH):
        proc = index.procs.get(pid)
        if proc is None or pid in seen:
            break
        seen.add(pid)
        if any(digest in arg.lower() for arg in proc.argv):
            return "its command line"
        if proc.execed and (is_interpreter_name(proc.name) or is_shell_name(proc.name)):
            for root in program_files(run, proc):
                if not root.endswith("/"):  # a script: its directory's tree
                    directory = posixpath.dirname(root)
                    root = directory + "/" if directory not in SYSTEM_DIRS else root
                paths = sorted(tree(run, root))[:MAX_FILES] if root.endswith("/") else [root]
                for path in paths:
                    head = run.file_bytes(path, BINARY_PROBE)
                    if not head or b"\0" in head or budget <= 0:
                        continue
                    text = run.file_text(path, FILE_BYTES) or ""
                    budget -= len(text)
                    if digest in text.lower():
                        return path
        pid = proc.ppid
    return ""
