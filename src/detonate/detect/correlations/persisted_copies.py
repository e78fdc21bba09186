"""A program that copies its own executable and registers the copy to start later:

    /usr/libexec/setup  writes /root/.local/share/x/refresh (the same bytes as itself)
    /root/.config/systemd/user/x.service   ExecStart=/root/.local/share/x/refresh --daemon

The persistence file (cron, unit, boot script, profile: persisted_commands.location_rule)
names a file the run wrote whose sha256 is the exe_sha256 of a program the run executed. A
copy in a hidden directory or under another name than the program's is critical: an
installer puts itself in a plain bin directory under its own name.
"""

from __future__ import annotations

import posixpath
import re

from detonate.detect.correlations.run_index import RunIndex
from detonate.model.events import ProcessExecuted
from detonate.model.findings import Evidence
from detonate.model.runtime import ChangeKind

PATH_WORD = re.compile(r"(?<![\w.-])(/[\w./-]+)")


def self_copies(index: RunIndex, place: str, text: str) -> list[tuple[Evidence, bool]]:
    """Evidence for each run-written copy of an executed program that `text` runs, and
    whether the copy is hidden or renamed."""
    programs: dict[str, ProcessExecuted] = {}
    for event in index.events:
        if isinstance(event, ProcessExecuted) and event.succeeded and event.exe_sha256:
            programs.setdefault(event.exe_sha256, event)
    found = []
    for path in dict.fromkeys(PATH_WORD.findall(text)):
        change = index.files.get(path)
        if change is None or change.change is ChangeKind.DELETED or not change.sha256:
            continue
        original = programs.get(change.sha256)
        if original is None or original.path == path:
            continue
        hidden = any(part.startswith(".") for part in path.split("/"))
        renamed = posixpath.basename(path) != posixpath.basename(original.path)
        how = ", ".join(w for w, on in (("hidden", hidden), ("renamed", renamed)) if on)
        writes = index.writes.get(path, ())
        found.append(
            (
                Evidence(
                    description=f"{place} runs {path}, a copy of {original.path} that the run "
                    f"executed" + (f" ({how})" if how else ""),
                    path=place,
                    sha256=change.sha256,
                    excerpt=next((line for line in text.splitlines() if path in line), ""),
                    event_ids=(original.seq, *(e.seq for e in writes[:2])),
                    process=index.chain(original.pid, original.seq),
                ),
                hidden or renamed,
            )
        )
    return found
