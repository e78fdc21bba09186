"""Where files live and who installs them: shared by the file-based impact and evasion
correlators (timestomp, data-impact), so they agree on what is "the system" and on which
programs change many files by design."""

from __future__ import annotations

from functools import lru_cache

from detonate.detect.correlations.run_index import RunIndex, program
from detonate.model.events import ProcessExecuted, ProcessRenamed

# Programs, libraries, configuration and boot files: a file here that looks old is trusted.
SYSTEM_LOCATIONS = (
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr",
    "/etc",
    "/boot",
    "/var/spool/cron",
)
# Source trees under /usr are work places of builds, not the system.
NOT_SYSTEM = ("/usr/src", "/usr/local/src")
# Scratch, runtime and kernel places: nothing there is data worth destroying or encrypting.
SCRATCH_LOCATIONS = ("/tmp", "/var/tmp", "/dev", "/run", "/var/run", "/proc", "/sys")
# The system's package managers: they install software, with its files' own modes, times and
# set-uid bits; whatever they run is theirs (the rules' `installer` field).
SYSTEM_PACKAGE_MANAGERS = frozenset(
    {
        "dpkg",
        "dpkg-deb",
        "dpkg-statoverride",
        "apt",
        "apt-get",
        "aptitude",
        "unattended-upgrade",
        "apk",
        "rpm",
        "yum",
        "dnf",
        "microdnf",
        "zypper",
        "pacman",
    }
)
# With the language package managers, which also write many files with their own times.
PACKAGE_MANAGERS = SYSTEM_PACKAGE_MANAGERS | {"pip", "pip3", "npm", "yarn", "gem"}


def under(path: str, places: tuple[str, ...]) -> bool:
    return path in places or path.startswith(_prefixes(places))


@lru_cache(maxsize=32)
def _prefixes(places: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(place + "/" for place in places)


def in_system(path: str) -> bool:
    return under(path, SYSTEM_LOCATIONS) and not under(path, NOT_SYSTEM)


def name_at(index: RunIndex, pid: int, seq: int) -> str:
    """The program `pid` was running at event `seq`: its exec's busybox applet or argv[0]'s
    name, or the applet a busybox shell ran in it without an exec (a NOEXEC applet names
    itself with prctl: `touch`, `cp`); a child that had neither yet runs its parent's (a
    shell's `> file` before the command)."""
    renames = _applet_renames(index)
    seen: set[int] = set()
    while pid not in seen:
        seen.add(pid)
        proc = index.procs.get(pid)
        if proc is None:
            return ""
        current: ProcessExecuted | ProcessRenamed | None = None
        for event in (*proc.execs, *renames.get(pid, ())):
            later = current is None or event.seq > current.seq
            if event.succeeded and event.seq <= seq and later:
                current = event
        if isinstance(current, ProcessRenamed):
            return current.name
        if current is not None:
            return program(current.argv, current.exe, current.applet)
        if not proc.ppid or proc.ppid not in index.procs or proc.fork_seq is None:
            return proc.name
        pid = proc.ppid
    return ""


def _applet_renames(index: RunIndex) -> dict[int, list[ProcessRenamed]]:
    """prctl(PR_SET_NAME) of busybox/toybox processes by pid: the applets they ran."""
    cached = index.run.derived.get("applet-renames")
    if isinstance(cached, dict):
        return cached
    renames: dict[int, list[ProcessRenamed]] = {}
    for event in index.events:
        if isinstance(event, ProcessRenamed) and event.multi_call:
            renames.setdefault(event.pid, []).append(event)
    index.run.derived["applet-renames"] = renames
    return renames


def lineage_names(index: RunIndex, pid: int, seq: int) -> list[str]:
    """Program names of `pid` and its ancestors at event `seq`, nearest first."""
    return [name_at(index, p, seq) for p in reversed(index.ancestors(pid))]


def run_by(index: RunIndex, pid: int, seq: int, programs: frozenset[str]) -> bool:
    """`pid`, or one of its ancestors, was one of `programs` at event `seq`."""
    return any(name in programs for name in lineage_names(index, pid, seq))
