"""A uid-0 account added at run time is high; one that can log in (a password hash the run
set, or no password at all) is critical on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from detonate.detect.correlations.account_backdoor import AccountBackdoor
from detonate.model.findings import Severity
from rules.test_rule_samples import run_from_yaml

ROOT = "root:x:0:0:root:/root:/bin/sh\n"
APPEND = "O_WRONLY|O_CREAT|O_APPEND"


def _severity(files: dict[str, str], tmp_path: Path) -> Severity | None:
    events = [
        {"kind": "process.exec", "pid": 1, "path": "/usr/bin/perl", "argv": ["perl", "/opt/p"]},
        *(
            {"kind": "file.write", "pid": 1, "path": path, "flags": APPEND, "append": True}
            for path in files
        ),
    ]
    run = run_from_yaml({"events": events, "files": files}, tmp_path / "artifacts")
    found = {f.rule_id: f for f in AccountBackdoor().detect(run)}
    return found["new-uid0-account"].severity if "new-uid0-account" in found else None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a hash in /etc/shadow for the new name: a login
        (
            {
                "/etc/passwd": ROOT + "ops:x:0:0::/var/lib/ops:/bin/sh\n",
                "/etc/shadow": "root:*:20000::::::\nops:$6$salt$hash:20000::::::\n",
            },
            Severity.CRITICAL,
        ),
        # no password at all, in passwd itself
        ({"/etc/passwd": ROOT + "ops::0:0::/:/bin/sh\n"}, Severity.CRITICAL),
        # locked in shadow, or no shadow line: still a second root, not a login
        (
            {
                "/etc/passwd": ROOT + "ops:x:0:0::/:/bin/sh\n",
                "/etc/shadow": "root:*:20000::::::\nops:!:20000::::::\n",
            },
            Severity.HIGH,
        ),
        ({"/etc/passwd": ROOT + "ops:x:0:0::/:/bin/sh\n"}, Severity.HIGH),
        # an unprivileged account with a password is no backdoor root
        (
            {
                "/etc/passwd": ROOT + "app:x:1001:1001::/home/app:/bin/sh\n",
                "/etc/shadow": "app:$6$salt$hash:20000::::::\n",
            },
            None,
        ),
    ],
    ids=["shadow-hash", "empty-password", "locked", "no-shadow-line", "unprivileged"],
)
def test_a_new_uid0_account_that_can_log_in_is_critical(
    files: dict[str, str], expected: Severity | None, tmp_path: Path
) -> None:
    assert _severity(files, tmp_path) == expected
