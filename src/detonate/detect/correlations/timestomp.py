"""Timestomping: a file's times set into the past, so that `ls -lt`, `find -newer` or a
forensic timeline no longer shows it as new (T1070.006).

A time-setting call (utimensat, utimes …: `touch -d 2019-03-04`, `touch -r /bin/ls`, a
program copying another file's times) is timestomping when
- its file is in a system location (programs, libraries, configuration, boot) or in a
  user's configuration (root's home, a home's dot files and directories: `.ssh/authorized_keys`,
  `.bashrc`, `.config/…`), where a planted key or hook is what the old date hides;
- the modification time it sets lies more than an hour before the call;
- it is not made by a program that keeps times by design while writing files (archive
  extractors, copy and download tools, package managers, or anything they run);
- and either the program did not write the file itself in this run (a system directory or
  file re-dated, a dropped file re-dated by `touch`), or it did and set explicit times on at
  most SELF_SET_MAX_FILES files in the whole run: dating one dropped binary like an old one
  hides it; extracting a tree with its archive's times (npm, a Go installer) does not.

Not seen: a copy tool made to do it (`cp -p` of an old file over a dropped one, `tar` of a
crafted archive), and a program of the sample's own that extracts a few files into system
directories with their archive's times looks like one that stomps them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.places import (
    PACKAGE_MANAGERS,
    in_system,
    name_at,
    run_by,
)
from detonate.detect.correlations.run_index import RunIndex, command_line, index_of
from detonate.detect.interface import RunView
from detonate.model.events import (
    Event,
    FileCreated,
    FileOpenedForWrite,
    FileRenamed,
    FileTimesChanged,
)
from detonate.model.findings import Evidence, Finding

NAME = "timestomp"
PAST_SECONDS = 3600.0
SELF_SET_MAX_FILES = 3
MAX_EVIDENCE = 20
# Write files and give them their source's times as a matter of course (`tar x`, `cp -p`,
# `rsync -t`, `wget -N`, `gunzip`, `unzip` …).
PRESERVING_TOOLS = frozenset(
    {
        "tar",
        "gtar",
        "bsdtar",
        "cpio",
        "pax",
        "unzip",
        "7z",
        "7za",
        "ar",
        "cp",
        "install",
        "mv",
        "rsync",
        "scp",
        "sftp",
        "wget",
        "curl",
        "lftp",
        "gzip",
        "gunzip",
        "zcat",
        "pigz",
        "unpigz",
        "bzip2",
        "bunzip2",
        "xz",
        "unxz",
        "lzma",
        "unlzma",
        "zstd",
        "unzstd",
        "lz4",
        "patch",
    }
)
EXEMPT = PRESERVING_TOOLS | PACKAGE_MANAGERS


class Timestomp:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        stamps = [e for e in run.events if isinstance(e, FileTimesChanged)]
        if not stamps:
            return ()
        index = index_of(run)
        explicit: dict[int, set[str]] = defaultdict(set)
        for stamp in stamps:
            if stamp.modify_time is not None or stamp.access_time is not None:
                explicit[stamp.pid].add(stamp.path)
        writers: dict[str, dict[int, int]] = defaultdict(dict)  # path → pid → seq of the write
        evidence: list[Evidence] = []
        for event in run.events:
            _note_writer(event, writers)
            if not isinstance(event, FileTimesChanged) or not _backdated(event):
                continue
            if not _hidden_there(event.path) or run_by(index, event.pid, event.seq, EXEMPT):
                continue
            wrote = writers[event.path].get(event.pid)
            if wrote is not None and len(explicit[event.pid]) > SELF_SET_MAX_FILES:
                continue  # a program dating a whole tree it wrote: an extractor's way
            evidence.append(_evidence(index, event, wrote))
        if not evidence:
            return ()
        return (finding("file-timestomp", NAME, evidence[:MAX_EVIDENCE]),)


def _hidden_there(path: str) -> bool:
    """A system file, or a user's configuration (whose age nobody expects to change)."""
    if in_system(path):
        return True
    parts = path.split("/")
    if parts[:2] == ["", "root"] and len(parts) > 2:
        return True
    return parts[:2] == ["", "home"] and any(p.startswith(".") for p in parts[3:])


def _note_writer(event: Event, writers: dict[str, dict[int, int]]) -> None:
    if isinstance(event, FileOpenedForWrite | FileCreated) and event.succeeded:
        writers[event.path].setdefault(event.pid, event.seq)
    elif isinstance(event, FileRenamed) and event.succeeded:
        writers[event.new_path].setdefault(event.pid, event.seq)


def _backdated(event: FileTimesChanged) -> bool:
    return event.modify_age is not None and event.modify_age > PAST_SECONDS


def _evidence(index: RunIndex, event: FileTimesChanged, wrote: int | None) -> Evidence:
    assert event.modify_time is not None and event.modify_age is not None
    when = datetime.fromtimestamp(event.modify_time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    whose = "a file it wrote in this run" if wrote is not None else "a file it did not write"
    failed = "" if event.succeeded else f" (failed: {event.error or 'error'})"
    known = event.pid in index.procs
    return Evidence(
        description=f"{name_at(index, event.pid, event.seq) or 'a process'} set the "
        f"modification time of {event.path} to {when}, {_age(event.modify_age)} before the "
        f"call: {whose}{failed}",
        path=event.path,
        excerpt=command_line(index.argv_at(event.pid, event.seq)) if known else "",
        event_ids=(*((wrote,) if wrote is not None else ()), event.seq),
        process=index.chain(event.pid, event.seq) if known else (),
    )


def _age(seconds: float) -> str:
    days = seconds / 86400
    if days >= 365:
        return f"{days / 365.25:.1f} years"
    if days >= 1:
        return f"{days:.0f} days"
    return f"{seconds / 3600:.1f} hours"
