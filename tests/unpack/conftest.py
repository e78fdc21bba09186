"""Fixtures for the unpack tests: a blobs dir, a cache dir, and an `outside` dir that hostile
layers aim at and that must stay empty."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from unpack_images import Layer, write_image

from detonate.model.filesystem import Rootfs
from detonate.model.image import AcquiredImage
from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.unpack import unpack
from detonate.unpack.rootfs_cache import remove_tree

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


@pytest.fixture
def unpack_layers(tmp_path: Path, cache_dir: Path) -> Unpack:
    """unpack_layers([Layer(), …], limits=UnpackLimits(…), **write_image options) → Rootfs."""

    def run(
        layers: list[Layer | bytes],
        limits: UnpackLimits | None = None,
        **image_options: object,
    ) -> Rootfs:
        image = write_image(tmp_path / "blobs", layers, **image_options)  # type: ignore[arg-type]
        return unpack(image, cache_dir, limits or UnpackLimits(), NullProgress())

    return run


@pytest.fixture
def unpack_image(cache_dir: Path) -> Callable[..., Rootfs]:
    def run(image: AcquiredImage, limits: UnpackLimits | None = None) -> Rootfs:
        return unpack(image, cache_dir, limits or UnpackLimits(), NullProgress())

    return run
