"""The image's `User` against its own /etc/passwd and /etc/group (`resolve_user`).

The input is the User field, then the passwd file, then the group file. Contract: a uid and
gid inside the mapped range 0..65535 and a home, or SandboxError (a user or group the image
does not define).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fuzz_harness import check, split, text

from detonate.errors import SandboxError
from detonate.model.options import CONTAINER_ID_COUNT
from detonate.sandbox.oci_config import resolve_user

TIME_BOUND = 5.0
SEPARATOR = b"\x00\xff\x00"
_ROOTFS = Path(tempfile.mkdtemp(prefix="detonate-fuzz-user-"))
atexit.register(shutil.rmtree, _ROOTFS, True)
(_ROOTFS / "etc").mkdir()


def seeds() -> Iterator[bytes]:
    passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    group = b"root:x:0:\nstaff:x:50:app\n"
    for user in (b"", b"app", b"1000", b"app:staff", b"1000:50", b"nobody", b"70000"):
        yield user + SEPARATOR + passwd + SEPARATOR + group


def fuzz(data: bytes) -> None:
    user, passwd, group = split(data, 3, SEPARATOR)
    (_ROOTFS / "etc" / "passwd").write_bytes(passwd)
    (_ROOTFS / "etc" / "group").write_bytes(group)
    try:
        uid, gid, home = resolve_user(text(user), _ROOTFS)
    except SandboxError:
        return
    check(0 <= uid < CONTAINER_ID_COUNT and 0 <= gid < CONTAINER_ID_COUNT, f"ids {uid}:{gid}")
    check(isinstance(home, str), "home")
