from __future__ import annotations

import os

import pytest

from detonate.model.filesystem import Rootfs

from .busybox_image import build_busybox_rootfs, sandbox_available


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Rootfs:
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    root = build_busybox_rootfs(tmp_path_factory.mktemp("image") / "rootfs")
    os.chmod(root.parent, 0o755)
    return Rootfs(root=root, entries=())
