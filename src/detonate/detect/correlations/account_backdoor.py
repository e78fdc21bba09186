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
from detonate.model.findings import Evidence, Finding

NAME = "account-backdoor"
PASSWD = "/etc/passwd"
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
            found.append(
                finding(
                    "new-uid0-account",
                    NAME,
                    [
                        Evidence(
                            description="accounts with uid 0 added to /etc/passwd: "
                            + ", ".join(new_root[:5]),
                            path=PASSWD,
                            event_ids=_writes_of(run, PASSWD),
                        )
                    ],
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


def _accounts(text: str) -> dict[str, tuple[int, str]]:
    """`sysadm:x:0:0::/var/lib/.sysadm:/bin/sh` → {"sysadm": (0, "/var/lib/.sysadm")}."""
    accounts: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] and fields[2].strip().isdigit():
            accounts.setdefault(fields[0], (int(fields[2]), fields[5]))
    return accounts


def _image_passwd(run: RunView) -> str:
    return (run.image_bytes(PASSWD) or b"").decode("utf-8", "replace")


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
