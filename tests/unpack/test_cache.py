"""The rootfs cache: reused without reading the layers again; never left half-built."""

from __future__ import annotations

import time

import pytest
from unpack_images import Layer, write_image

from detonate.errors import LimitExceeded, MalformedLayer
from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.unpack import unpack


class RecordingProgress(NullProgress):
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def start(self, task, total=None, unit=""):
        self.calls.append(("start", task, str(total), unit))

    def advance(self, task, amount=1):
        self.calls.append(("advance", task, str(amount)))

    def finish(self, task):
        self.calls.append(("finish", task))


def test_second_unpack_reuses_the_cache_without_reading_blobs(tmp_path, cache_dir):
    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x"), Layer().file("b", b"y")])
    first = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    for layer in image.layers:
        image.blob_path(layer.digest).unlink()  # a second unpack must not need them
    started = time.monotonic()
    second = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert time.monotonic() - started < 1.0
    assert second == first
    assert second.root == first.root
    assert second.root.parent.parent == cache_dir / "rootfs"


def test_images_sharing_layers_but_not_all_get_their_own_rootfs(tmp_path, cache_dir):
    base = Layer().file("base", b"b")
    one = write_image(tmp_path / "blobs", [base, Layer().file("one")])
    two = write_image(tmp_path / "blobs", [base, Layer().file("two")])
    a = unpack(one, cache_dir, UnpackLimits(), NullProgress())
    b = unpack(two, cache_dir, UnpackLimits(), NullProgress())
    assert a.root != b.root
    assert (b.root / "two").exists() and not (b.root / "one").exists()


def test_progress_reports_the_stored_bytes(tmp_path, cache_dir):
    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x" * 10000)])
    progress = RecordingProgress()
    unpack(image, cache_dir, UnpackLimits(), progress)
    total = image.layers[0].size
    assert progress.calls[0] == ("start", "unpack", str(total), "B")
    assert sum(int(c[2]) for c in progress.calls if c[0] == "advance") == total
    assert progress.calls[-1] == ("finish", "unpack")


@pytest.mark.parametrize("failure", ["limit", "malformed"])
def test_a_failed_unpack_leaves_nothing_behind(tmp_path, cache_dir, failure):
    deep = "/".join(["d"] * 1500)  # removal must not recurse
    good = Layer().file(f"{deep}/leaf", b"x").dir("ro", mode=0o555).file("ro/f", b"f", mode=0)
    if failure == "limit":
        image = write_image(tmp_path / "blobs", [good, Layer().huge_file("big", 4096)])
        limits, error = UnpackLimits(max_file_bytes=1024), LimitExceeded
    else:
        image = write_image(tmp_path / "blobs", [good], blobs=[b"garbage" * 100])
        limits, error = UnpackLimits(), MalformedLayer
    with pytest.raises(error):
        unpack(image, cache_dir, limits, NullProgress())
    assert list((cache_dir / "rootfs").iterdir()) == []


def test_temp_dirs_of_dead_unpacks_are_cleaned(tmp_path, cache_dir):
    stale = cache_dir / "rootfs" / ".tmp-999999999-abc" / "root" / "etc"
    stale.mkdir(parents=True)
    image = write_image(tmp_path / "blobs", [Layer().file("a")])
    unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert [p.name for p in (cache_dir / "rootfs").iterdir() if p.name.startswith(".tmp")] == []


def test_a_cache_entry_with_a_lost_index_is_rebuilt(tmp_path, cache_dir):
    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x")])
    first = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    (first.root.parent / "index.json").unlink()
    again = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert (again.root / "a").read_bytes() == b"x"
    assert again.entries == first.entries
