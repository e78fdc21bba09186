"""Backdoor accounts: a uid-0 account added to /etc/passwd during the run, and SSH keys written
for an account with uid 0.

The image's /etc/passwd is the baseline: a uid-0 line whose name it did not have as uid 0 is
new. Keys are judged by whose home they are in, as the passwd at the end of the run says, so
root's keys written under a custom home (`sysadm:x:0:0::/var/lib/.sysadm:/bin/sh`) count; a git
server or an SFTP drop box writing keys for the unprivileged user it creates at first start
(B6) does not. Root's /root keys are the rule
file-root-authorized-keys-write.
"""

from __future__ import annotations

from detonate.detect.correlations.metadata import finding
from detonate.detect.interface import RunView
from detonate.model.events import FileCreated, FileOpenedForWrite, FileRenamed
from detonate.model.findings import Evidence, Finding, Severity

NAME = "account-backdoor"
PASSWD = "/etc/passwd"
SHADOW = "/etc/shadow"
LOCKED = ("*", "!")  # a password field that lets no one in (`*`, `!`, `!!`, `!$6$…`)
OPEN_LOGIN = (
    "One of them has a password the run set (or none): root under another name that anyone "
    "who knows it can log in as."
)
KEY_FILES = ("/authorized_keys", "/authorized_keys2")
ROOT_KEYS_PREFIX = "/root/"  # covered by the rule file-root-authorized-keys-write


class AccountBackdoor:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        if not any(change.path == PASSWD for change in run.files):
            return ()
        final = _accounts(run.file_text(PASSWD) or "")
        before = _accounts(_image_passwd(run))
        new_root = sorted(
            name
            for name, (uid, _) in final.items()
            if uid == 0 and name != "root" and before.get(name, (-1, ""))[0] != 0
        )
        found: list[Finding] = []
        if new_root:
            evidence = [
                Evidence(
                    description="accounts with uid 0 added to /etc/passwd: "
                    + ", ".join(new_root[:5]),
                    path=PASSWD,
                    event_ids=_writes_of(run, PASSWD),
                )
            ]
            open_logins = _open_logins(run, new_root)
            if open_logins:
                evidence.append(
                    Evidence(
                        description="and they can log in (a password set, or none asked): "
                        + ", ".join(open_logins[:5]),
                        path=SHADOW if SHADOW in {c.path for c in run.files} else PASSWD,
                        event_ids=_writes_of(run, SHADOW) or _writes_of(run, PASSWD),
                    )
                )
            found.append(
                finding(
                    "new-uid0-account",
                    NAME,
                    evidence,
                    severity=Severity.CRITICAL if open_logins else None,
                    why=OPEN_LOGIN if open_logins else "",
                )
            )
        homes = {
            home.rstrip("/") + "/": name
            for name, (uid, home) in final.items()
            if home not in ("", "/") and uid == 0
        }
        keys = _key_writes(run, homes)
        if keys:
            found.append(finding("authorized-keys-for-privileged-account", NAME, keys[:5]))
        return tuple(found)


def _open_logins(run: RunView, names: list[str]) -> list[str]:
    """The new uid-0 accounts someone can log in as: a password hash, or no password at all,
    in /etc/passwd's second field or (for `x`) in /etc/shadow's. `*`, `!…` and a missing
    shadow line lock the account."""
    passwords = _password_fields(run.file_text(PASSWD) or "")
    shadow = _password_fields(run.file_text(SHADOW) or _image_text(run, SHADOW))
    usable = []
    for name in names:
        password = passwords.get(name)
        if password == "x":
            password = shadow.get(name)
        if password is not None and not password.startswith(LOCKED):
            usable.append(name)
    return usable


def _password_fields(text: str) -> dict[str, str]:
    fields = (line.split(":") for line in text.splitlines())
    return {f[0]: f[1] for f in fields if len(f) >= 2 and f[0]}


def _image_text(run: RunView, path: str) -> str:
    return (run.image_bytes(path) or b"").decode("utf-8", "replace")


def _accounts(text: str) -> dict[str, tuple[int, str]]:
    """`sysadm:x:0:0::/var/lib/.sysadm:/bin/sh` → {"sysadm": (0, "/var/lib/.sysadm")}."""
    accounts: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] and fields[2].strip().isdigit():
            accounts.setdefault(fields[0], (int(fields[2]), fields[5]))
    return accounts


def _image_passwd(run: RunView) -> str:
    return _image_text(run, PASSWD)


def _writes_of(run: RunView, path: str) -> tuple[int, ...]:
    return tuple(
        e.seq
        for e in run.events
        if (isinstance(e, FileOpenedForWrite) and e.path == path)
        or (isinstance(e, FileRenamed) and e.new_path == path)
    )[:10]


def _key_writes(run: RunView, homes: dict[str, str]) -> list[Evidence]:
    evidence: list[Evidence] = []
    for event in run.events:
        if isinstance(event, FileOpenedForWrite | FileCreated):
            path = event.path
        elif isinstance(event, FileRenamed):
            path = event.new_path
        else:
            continue
        if not event.succeeded or not path.endswith(KEY_FILES) or "/.ssh/" not in path:
            continue
        if isinstance(event, FileCreated) and event.file_type == "dir":
            continue
        if path.startswith(ROOT_KEYS_PREFIX):
            continue
        owner = next((name for home, name in homes.items() if path.startswith(home)), None)
        if owner is not None:
            evidence.append(
                Evidence(
                    description=f"SSH keys written for {owner}, an account with uid 0",
                    path=path,
                    event_ids=(event.seq,),
                )
            )
    return evidence
