"""Writes to the host's filesystem through a bind the deployment asked for (`-v /:/host`).

The sandbox serves such binds from a fake host tree (sandbox/fake_host.py), so the writes
landed nowhere; what they aimed at is the point (attempts the tree's permissions refused
count too): a key in the host root's authorized_keys, a cron job, a changed /etc/shadow, a
binary on the host's PATH. Reads of the tree's planted secrets are the honeytokens
detector's.
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.run_index import index_of
from detonate.detect.interface import RunView
from detonate.model.events import (
    Event,
    FileAttributesChanged,
    FileCreated,
    FileDeleted,
    FileModeChanged,
    FileOpenedForWrite,
    FileRenamed,
    FileTimesChanged,
)
from detonate.model.findings import Evidence, Finding
from detonate.model.runtime import HostMount

NAME = "host-mounts"
MAX_EVIDENCE = 20
_VERBS = {
    FileOpenedForWrite: "wrote",
    FileCreated: "created",
    FileDeleted: "deleted",
    FileRenamed: "renamed",
    FileModeChanged: "changed the mode of",
    FileAttributesChanged: "changed the attributes of",
    FileTimesChanged: "changed the times of",
}


class HostMounts:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        if not run.host_mounts:
            return ()
        index = index_of(run)
        evidence: list[Evidence] = []
        seen: set[tuple[str, str]] = set()
        for event in run.events:
            verb = _VERBS.get(type(event))
            if verb is None:
                continue
            error = "" if getattr(event, "succeeded", True) else getattr(event, "error", "?")
            failed = f" (failed: {error})" if error else ""
            for path in _paths(event):
                hit = _on_host(run.host_mounts, path)
                if hit is None or (verb, path) in seen:
                    continue
                seen.add((verb, path))
                mount, host_path = hit
                evidence.append(
                    Evidence(
                        description=f"{verb} the host's {host_path} (bind {mount.source} at "
                        f"{mount.destination}){failed}",
                        path=path,
                        event_ids=(event.seq,),
                        process=index.chain(event.pid, event.seq),
                    )
                )
        if not evidence:
            return ()
        return (finding("host-filesystem-write", NAME, evidence[:MAX_EVIDENCE]),)


def _paths(event: Event) -> tuple[str, ...]:
    if isinstance(event, FileRenamed):
        return (event.path, event.new_path)
    return (str(getattr(event, "path", "")),)


def _on_host(mounts: tuple[HostMount, ...], path: str) -> tuple[HostMount, str] | None:
    """The innermost mount `path` is under, and the host path it stands for."""
    best: tuple[HostMount, str] | None = None
    for mount in mounts:
        host_path = mount.host_path(path)
        if host_path is not None and (
            best is None or len(mount.destination) > len(best[0].destination)
        ):
            best = (mount, host_path)
    return best
