"""cache_dir/rootfs/<key>/{root/, index.json}: one unpacked rootfs per chain of layers.

A rootfs is built in a temporary sibling directory and renamed into place only when complete,
so a present key is always a whole rootfs; a failed or killed unpack leaves nothing behind
(temporary directories of dead processes are removed by the next unpack).
The directories are 0700: the tree holds setuid files owned by the container's host ids.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage
from detonate.unpack.index_file import load_index

FORMAT_VERSION = 1  # bump when the on-disk result of an unpack changes
TEMP_PREFIX = ".tmp-"
ROOT_NAME = "root"
INDEX_NAME = "index.json"


def cache_key(image: AcquiredImage) -> str:
    """The OCI ChainID of the image's layers (from diff_ids, else from the blob digests).

    ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
    """
    diff_ids = image.config.diff_ids
    if diff_ids and len(diff_ids) == len(image.layers):
        kind, chain = "chain", list(diff_ids)
    else:
        kind, chain = "blobs", [layer.digest for layer in image.layers]
    if not chain:
        return f"v{FORMAT_VERSION}-empty"
    chain_id = chain[0]
    for digest in chain[1:]:
        chain_id = "sha256:" + hashlib.sha256(f"{chain_id} {digest}".encode()).hexdigest()
    return f"v{FORMAT_VERSION}-{kind}-{chain_id.partition(':')[2]}"


class RootfsCache:
    def __init__(self, cache_dir: Path) -> None:
        self.base = cache_dir / "rootfs"

    def load(self, key: str) -> Rootfs | None:
        directory = self.base / key
        return load_index(directory / INDEX_NAME, directory / ROOT_NAME)

    @contextmanager
    def building(self, key: str) -> Iterator[Path]:
        """A fresh work directory; published as `key` if the block succeeds, else removed."""
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o700)
        self._remove_stale()
        work = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=self.base))
        try:
            yield work
        except BaseException:
            remove_tree(work)
            raise
        final = self.base / key
        if final.exists() and self.load(key) is None:
            remove_tree(final)  # a damaged entry (index lost): replace it
        try:
            os.rename(work, final)
        except OSError as error:
            remove_tree(work)
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise  # else another process published the same key first: use theirs

    def _remove_stale(self) -> None:
        for child in self.base.iterdir():
            if not child.name.startswith(TEMP_PREFIX):
                continue
            pid = child.name[len(TEMP_PREFIX) :].partition("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                remove_tree(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(top: Path) -> None:
    """`rm -rf top` without recursion (hostile trees nest thousands of levels deep), without
    following symlinks, and with one directory fd open at a time."""
    owner = os.geteuid() == 0
    names: list[str] = []
    fd = os.open(top, _DIR)
    try:
        while True:
            if not owner:
                os.fchmod(fd, 0o700)  # image modes like 0555 would stop an unprivileged unlink
            with os.scandir(fd) as listing:
                children = [(e.name, e.is_dir(follow_symlinks=False)) for e in listing]
            subdir = next((name for name, is_dir in children if is_dir), None)
            for name, is_dir in children:
                if not is_dir:
                    os.unlink(name, dir_fd=fd)
            if subdir is not None:
                child = os.open(subdir, _DIR, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(subdir)
                continue
            if not names:
                break
            parent = os.open("..", _DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(top)
