from __future__ import annotations

import os
import shutil

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


@pytest.fixture(scope="session")
def standin_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Rootfs:
    """The busybox rootfs plus the C stand-ins of samples/bombs and samples/containment in
    /bin (compiled here by the factory's gcc recipe)."""
    from .busybox_image import install_standins

    if not sandbox_available() or shutil.which("gcc") is None:
        pytest.skip("needs root, runc, strace, /bin/busybox and gcc")
    root = build_busybox_rootfs(tmp_path_factory.mktemp("standins") / "rootfs")
    os.chmod(root.parent, 0o755)
    install_standins(root)
    return Rootfs(root=root, entries=())
