"""The kernel-side guard: directories are opened beneath the root, never through a symlink."""

from __future__ import annotations

import errno
import os

import pytest

from detonate.unpack.beneath import open_dir_beneath, walk_dir_beneath


@pytest.fixture
def root_fd(tmp_path, outside):
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "escape").symlink_to(outside)
    (root / "usr/up").symlink_to("../..")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


@pytest.mark.parametrize("opener", [open_dir_beneath, walk_dir_beneath])
def test_opens_a_real_directory(root_fd, opener):
    fd = opener(root_fd, "usr/bin")
    try:
        assert os.path.samestat(os.fstat(fd), os.stat("usr/bin", dir_fd=root_fd))
    finally:
        os.close(fd)


@pytest.mark.parametrize("opener", [open_dir_beneath, walk_dir_beneath])
@pytest.mark.parametrize("path", ["escape", "usr/up", "usr/up/outside", "usr/../.."])
def test_refuses_symlinks_and_climbing(root_fd, opener, path):
    with pytest.raises(OSError) as caught:
        os.close(opener(root_fd, path))
    assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV, errno.EINVAL)


def test_writer_refuses_a_parent_that_is_a_symlink_on_disk(root_fd):
    """Even if the merged tree were wrong, the kernel stops a write through a symlink."""
    from detonate.unpack.disk import RootWriter

    writer = RootWriter(root_fd)
    with pytest.raises(OSError):
        writer.write_file(["escape"], "owned", lambda fd, hasher: None, 0o644, 0, 0, 0)
    with pytest.raises(OSError):
        writer.mkdir(["usr", "up"], "owned", 0o755, 0, 0)
