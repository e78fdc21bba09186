"""Fixtures for the unpack tests: a blobs dir, a cache dir, and an `outside` dir that hostile
layers aim at and that must stay empty."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from layered_view import merged_unpack, mount_view, tree_listing, unmount
from unpack_images import Layer, write_image

from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage
from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.unpack import unpack
from detonate.unpack.tree_removal import remove_tree

Unpack = Callable[..., Rootfs]


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A host directory next to the work dir; nothing may ever be written into it."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "sentinel").write_text("host file\n")
    yield path
    assert sorted(p.name for p in path.iterdir()) == ["sentinel"], "a layer wrote outside"
    assert (path / "sentinel").read_text() == "host file\n", "a layer changed a host file"


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    """Removed after the test with our own non-recursive remover: hostile trees nest deeper
    than pytest's shutil.rmtree of its temp dirs can recurse."""
    path = tmp_path / "cache"
    yield path
    if path.exists():
        remove_tree(path)


class LayeredUnpack:
    """unpack() plus the equivalence checks of layered_view; `.root` of what it returns is the
    overlay mount of the layer dirs, so a test's checks on disk see the image's tree."""

    def __init__(self, tmp_path: Path, cache_dir: Path) -> None:
        self.tmp_path, self.cache_dir = tmp_path, cache_dir
        self.mounts: list[Path] = []

    def __call__(self, image: AcquiredImage, limits: UnpackLimits | None = None) -> Rootfs:
        limits = limits or UnpackLimits()
        rootfs = unpack(image, self.cache_dir, limits, NullProgress())
        number = len(self.mounts)
        reference = merged_unpack(image, self.cache_dir / f"reference-{number}", limits)
        assert rootfs.entries == reference.entries
        assert rootfs.issues == reference.issues
        view = mount_view(rootfs, self.tmp_path / "views" / str(number))
        if view.parent == self.tmp_path / "views":
            self.mounts.append(view)
        else:
            self.mounts.append(Path())
        assert tree_listing(view) == tree_listing(reference.root)
        return dataclasses.replace(rootfs, root=view)

    def close(self) -> None:
        for mount in self.mounts:
            if mount != Path():
                unmount(mount)


@pytest.fixture
def layered_unpack(tmp_path: Path, cache_dir: Path) -> Iterator[LayeredUnpack]:
    checked = LayeredUnpack(tmp_path, cache_dir)
    yield checked
    checked.close()


@pytest.fixture
def unpack_layers(tmp_path: Path, layered_unpack: LayeredUnpack) -> Unpack:
    """unpack_layers([Layer(), …], limits=UnpackLimits(…), **write_image options) → Rootfs."""

    def run(
        layers: list[Layer | bytes],
        limits: UnpackLimits | None = None,
        **image_options: object,
    ) -> Rootfs:
        image = write_image(tmp_path / "blobs", layers, **image_options)  # type: ignore[arg-type]
        return layered_unpack(image, limits)

    return run


@pytest.fixture
def unpack_image(layered_unpack: LayeredUnpack) -> Callable[..., Rootfs]:
    return layered_unpack
