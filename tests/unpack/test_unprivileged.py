"""Without root (static-only scans): layers unpack into the cache with their whiteouts and
opaque dirs in the index only, files are read through host_path, and a later run as root
does not trust those entries (no whiteouts on disk, wrong owners) but rebuilds them."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from unpack_images import Layer, write_image

from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.unpack import unpack
from detonate.unpack.layer_store import MARKER_NAME, LayerStore
from detonate.unpack.tree_removal import remove_tree

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="drops from root to nobody")


def layers() -> list[Layer]:
    lower = Layer().file("etc/passwd", b"root\n").file("var/cache/old", b"o").file("etc/gone")
    upper = Layer().whiteout("etc/gone").opaque("var/cache").file("var/cache/new", b"n")
    return [lower, upper]


def _as_nobody(image, cache_dir: Path, results) -> None:  # type: ignore[no-untyped-def]
    try:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        rootfs = unpack(image, cache_dir, UnpackLimits(), NullProgress())
        by_path = rootfs.by_path()
        read = {
            p: rootfs.host_path(by_path[p]).read_bytes() for p in ("/etc/passwd", "/var/cache/new")
        }
        results.put(("ok", sorted(by_path), read))
    except Exception as error:  # reported to the test
        results.put(("error", repr(error), {}))


def test_unpack_without_root_indexes_whiteouts_and_reads_through_host_path():
    work = Path(tempfile.mkdtemp(prefix="detonate-unprivileged-"))
    try:
        os.chmod(work, 0o755)
        image = write_image(work / "blobs", layers())
        for path in work.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        cache_dir = work / "cache"
        cache_dir.mkdir()
        os.chown(cache_dir, NOBODY, NOBODY)
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        child = context.Process(target=_as_nobody, args=(image, cache_dir, results))
        child.start()
        status, paths, read = results.get(timeout=60)
        child.join(timeout=30)
        assert status == "ok", paths
        assert "/etc/gone" not in paths and "/var/cache/old" not in paths
        assert read == {"/etc/passwd": b"root\n", "/var/cache/new": b"n"}
        store = LayerStore(cache_dir)
        markers = [
            json.loads((store.base / k / MARKER_NAME).read_text()) for k in store.entry_keys()
        ]
        assert [m["privileged"] for m in markers] == [False, False]

        as_root = unpack(image, cache_dir, UnpackLimits(), NullProgress())
        assert LayerStore(cache_dir).counts() == {"hits": 0, "misses": 4}  # rebuilt, not trusted
        assert sorted(as_root.by_path()) == paths
        top = as_root.layer_dirs[1]
        assert os.stat(top / "etc/gone", follow_symlinks=False).st_rdev == 0  # a whiteout now
        assert os.getxattr(top / "var/cache", "trusted.overlay.opaque") == b"y"
    finally:
        if (work / "cache").exists():
            remove_tree(work / "cache")
        shutil.rmtree(work)
