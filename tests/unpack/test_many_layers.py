"""Images with more layers than one overlay mount takes: the bottom layers are merged in groups
(keeping their whiteouts and opaque dirs), and the sandbox's own mount shows the same tree as
a merged unpack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from layered_view import merged_unpack, tree_listing
from unpack_images import Layer, write_image

from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.sandbox.overlay import mount_overlay, unmount
from detonate.unpack import unpack
from detonate.unpack.overlay_lowers import fits, lower_stack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


def many_layers(count: int) -> list[Layer]:
    """Layers that write, delete, make opaque and recreate across each other."""
    layers = [Layer().dir("etc").file("etc/base", b"0").dir("var/cache/apt").file("var/keep")]
    for number in range(1, count):
        layer = Layer().file(f"etc/l{number}", str(number).encode())
        if number % 3 == 0:
            layer.whiteout(f"etc/l{number - 1}")
        if number % 5 == 0:
            layer.opaque("var/cache").file(f"var/cache/c{number}", b"c")
        if number % 7 == 0:
            layer.file("etc/base", f"rewritten {number}".encode())
        if number % 11 == 0:
            layer.whiteout("var/cache").file("var/cache", b"now a file")
        if number % 13 == 0:
            layer.whiteout("var/cache").dir("var/cache/new")
        layers.append(layer)
    return layers


def mounted_listing(lowers: list[Path], mount_dir: Path) -> dict[str, tuple[object, ...]]:
    overlay = mount_overlay(lowers, mount_dir, disk_bytes=16 * 1024 * 1024)
    try:
        return tree_listing(overlay.merged)
    finally:
        for point in overlay.mount_points:
            unmount(point)


@pytest.mark.parametrize("count, budget", [(12, 400), (60, None)])
def test_grouped_lower_dirs_show_the_merged_tree(tmp_path, cache_dir, count, budget):
    image = write_image(tmp_path / "blobs", many_layers(count))
    rootfs = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    reference = merged_unpack(image, cache_dir / "reference", UnpackLimits())
    assert rootfs.entries == reference.entries
    options = {"budget": budget} if budget else {}
    assert not fits(rootfs.lower_dirs, budget or 3072)  # the case under test: too many
    with lower_stack(rootfs, **options) as lowers:
        assert len(lowers) < count and fits(lowers, budget or 3072)
        assert mounted_listing(lowers, tmp_path / "mount") == tree_listing(reference.root)
    leftovers = [p for p in (cache_dir / "layers").iterdir() if "groups" in p.name]
    assert leftovers == []  # the groups are removed after the run


def test_an_image_that_fits_mounts_its_layer_dirs_as_they_are(tmp_path, cache_dir):
    image = write_image(tmp_path / "blobs", many_layers(8))
    rootfs = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    reference = merged_unpack(image, cache_dir / "reference", UnpackLimits())
    with lower_stack(rootfs) as lowers:
        assert lowers == list(reversed(rootfs.layer_dirs))
        assert mounted_listing(lowers, tmp_path / "mount") == tree_listing(reference.root)
