"""The base layer every sample stands on: Debian's busybox-static and a minimal /etc.

The busybox binary is the host's own (package busybox-static), copied in as bytes; the host only
runs it to list its applets (`busybox --list-full`), never anything from an image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from detonate.factory.spec import FileSpec, LayerSpec

PASSWD = b"""root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = b"""root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
"""


def host_busybox() -> Path:
    """`$DETONATE_BUSYBOX`, else /bin/busybox, else busybox on PATH."""
    candidates = [os.environ.get("DETONATE_BUSYBOX", ""), "/bin/busybox", shutil.which("busybox")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "busybox not found: install Debian's busybox-static or set DETONATE_BUSYBOX"
    )


@cache
def _applets(busybox: Path) -> tuple[str, ...]:
    # `busybox --list-full` prints one install path per line: "usr/bin/wget", "sbin/ip".
    listing = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return tuple(sorted({line.strip() for line in listing.splitlines() if line.strip()}))


def busybox_layer(busybox: Path | None = None) -> LayerSpec:
    busybox = busybox or host_busybox()
    files: list[FileSpec] = [
        FileSpec("/bin/busybox", content=busybox.read_bytes(), mode=0o755),
        FileSpec("/etc/passwd", content=PASSWD),
        FileSpec("/etc/group", content=GROUP),
        FileSpec("/etc/hostname", content=b"localhost\n"),
        FileSpec("/tmp", type="dir", mode=0o1777),
        FileSpec("/root", type="dir", mode=0o700),
        FileSpec("/var/log", type="dir"),
        FileSpec("/var/www", type="dir"),
        FileSpec("/etc/ssl/certs", type="dir"),
        FileSpec("/usr/local/bin", type="dir"),
    ]
    files += [
        FileSpec("/" + applet, type="symlink", link_target="/bin/busybox")
        for applet in _applets(busybox)
        if applet != "bin/busybox"
    ]
    return LayerSpec(tuple(files), created_by="ADD busybox-static / # detonate factory base")
