"""The layer cache: each layer unpacked once per chain, reused without reading blobs, never
trusted when damaged, never left half-built, built once when two unpacks race for it."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest
from layered_view import merged_unpack, tree_listing
from unpack_images import Layer, write_image

from detonate.errors import LimitExceeded, MalformedLayer
from detonate.model.options import UnpackLimits
from detonate.progress import NullProgress
from detonate.unpack import unpack
from detonate.unpack.layer_store import MARKER_NAME, TEMP_PREFIX, LayerStore, layer_keys


class RecordingProgress(NullProgress):
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def start(self, task, total=None, unit=""):
        self.calls.append(("start", task, str(total), unit))

    def advance(self, task, amount=1):
        self.calls.append(("advance", task, str(amount)))

    def finish(self, task):
        self.calls.append(("finish", task))


def layer_dirs(cache_dir: Path) -> list[str]:
    return LayerStore(cache_dir).entry_keys()


def counts(cache_dir: Path) -> dict[str, int]:
    return LayerStore(cache_dir).counts()


def base_layer() -> Layer:
    layer = Layer().dir("etc").file("etc/passwd", b"root:x:0:0\n").dir("usr/bin")
    for number in range(50):
        layer.file(f"usr/bin/tool{number}", b"\x7fELF" + bytes([number]) * 100, mode=0o755)
    return layer


def test_second_unpack_reuses_the_cache_without_reading_blobs(tmp_path, cache_dir):
    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x"), Layer().file("b", b"y")])
    first = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    for layer in image.layers:
        image.blob_path(layer.digest).unlink()  # a second unpack must not need them
    second = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert second == first
    assert second.layer_dirs == first.layer_dirs
    assert [p.parent.name for p in second.layer_dirs] == layer_keys(image)
    assert counts(cache_dir) == {"hits": 2, "misses": 2}


def test_two_images_sharing_a_base_unpack_the_base_once(tmp_path, cache_dir):
    one = write_image(tmp_path / "blobs", [base_layer(), Layer().file("one", b"1")])
    two = write_image(tmp_path / "blobs", [base_layer(), Layer().file("two", b"2")])
    a = unpack(one, cache_dir, UnpackLimits(), NullProgress())
    b = unpack(two, cache_dir, UnpackLimits(), NullProgress())
    assert a.layer_dirs[0] == b.layer_dirs[0]  # the very same directory
    assert a.layer_dirs[1] != b.layer_dirs[1]
    assert len(layer_dirs(cache_dir)) == 3  # base, one's top, two's top
    assert counts(cache_dir) == {"hits": 1, "misses": 3}
    # Each image's own files, read through host_path from the layer that has them.
    for rootfs, name, data in ((a, "/one", b"1"), (b, "/two", b"2")):
        by_path = rootfs.by_path()
        assert rootfs.host_path(by_path[name]).read_bytes() == data
        assert rootfs.host_path(by_path["/etc/passwd"]).read_bytes() == b"root:x:0:0\n"
    assert "/two" not in a.by_path() and "/one" not in b.by_path()


def test_the_same_layer_over_another_base_is_its_own_entry(tmp_path, cache_dir):
    """A layer's dir depends on the layers below (a symlink there moves its files)."""
    top = Layer().file("lib/x", b"x")
    below = Layer().dir("usr/lib").symlink("lib", "usr/lib")
    linked = write_image(tmp_path / "blobs", [below, top])
    plain = write_image(tmp_path / "blobs", [Layer().dir("lib"), top])
    a = unpack(linked, cache_dir, UnpackLimits(), NullProgress())
    b = unpack(plain, cache_dir, UnpackLimits(), NullProgress())
    assert "/usr/lib/x" in a.by_path() and "/lib/x" in b.by_path()
    assert a.layer_dirs[1] != b.layer_dirs[1]


def test_progress_reports_the_stored_bytes(tmp_path, cache_dir):
    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x" * 10000)])
    for _ in range(2):  # unpacked, then from the cache
        progress = RecordingProgress()
        unpack(image, cache_dir, UnpackLimits(), progress)
        total = image.layers[0].size
        assert progress.calls[0] == ("start", "unpack", str(total), "B")
        assert sum(int(c[2]) for c in progress.calls if c[0] == "advance") == total
        assert progress.calls[-1] == ("finish", "unpack")


@pytest.mark.parametrize("failure", ["limit", "malformed"])
def test_a_failed_layer_leaves_nothing_behind(tmp_path, cache_dir, failure):
    deep = "/".join(["d"] * 1500)  # removal must not recurse
    good = Layer().file(f"{deep}/leaf", b"x").dir("ro", mode=0o555).file("ro/f", b"f", mode=0)
    bad_top = Layer().file(f"{deep}/more", b"y").huge_file("big", 4096)
    if failure == "limit":
        image = write_image(tmp_path / "blobs", [good, bad_top])
        limits, error = UnpackLimits(max_file_bytes=1024), LimitExceeded
    else:
        image = write_image(tmp_path / "blobs", [good], blobs=[b"garbage" * 100])
        limits, error = UnpackLimits(), MalformedLayer
    with pytest.raises(error):
        unpack(image, cache_dir, limits, NullProgress())
    listing = os.listdir(cache_dir / "layers")
    assert not [name for name in listing if name.startswith(".tmp")]
    assert layer_dirs(cache_dir) == layer_keys(image)[:1]  # the good layer is kept, complete


def test_temp_dirs_of_dead_unpacks_are_cleaned(tmp_path, cache_dir):
    stale = cache_dir / "layers" / ".tmp-999999999-abc" / "root" / "etc"
    stale.mkdir(parents=True)
    image = write_image(tmp_path / "blobs", [Layer().file("a")])
    unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert [p.name for p in (cache_dir / "layers").iterdir() if p.name.startswith(".tmp")] == []


def _damage_index(entry: Path) -> None:
    index = entry / "index.json"
    index.write_bytes(index.read_bytes().replace(b'"/a"', b'"/z"'))  # still valid JSON


def _damage_marker_key(entry: Path) -> None:
    marker = json.loads((entry / MARKER_NAME).read_text())
    marker["key"] = "v2-chain-" + "0" * 64
    (entry / MARKER_NAME).write_text(json.dumps(marker))


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: (entry / "index.json").unlink(),
        lambda entry: (entry / MARKER_NAME).unlink(),  # as a copy or rename cut short leaves it
        lambda entry: (entry / "index.json").write_bytes(b'{"format": 2, "entr'),
        _damage_index,
        _damage_marker_key,
    ],
    ids=["lost-index", "no-marker", "torn-index", "edited-index", "foreign-marker"],
)
def test_a_damaged_cache_entry_is_rebuilt_not_trusted(tmp_path, cache_dir, damage):
    image = write_image(tmp_path / "blobs", [Layer().file("a", b"x")])
    first = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    damage(first.layer_dirs[0].parent)
    again = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert again.entries == first.entries
    assert again.host_path(again.by_path()["/a"]).read_bytes() == b"x"
    assert counts(cache_dir) == {"hits": 0, "misses": 2}  # built twice, never used damaged
    assert unpack(image, cache_dir, UnpackLimits(), NullProgress()) == first
    assert counts(cache_dir)["hits"] == 1


def test_limits_hold_for_cached_layers_and_for_the_image_as_a_whole(tmp_path, cache_dir):
    many = Layer()
    for number in range(60):
        many.file(f"f{number}", b"x")
    base = write_image(tmp_path / "blobs", [many])
    unpack(base, cache_dir, UnpackLimits(), NullProgress())  # cached under the default limits
    with pytest.raises(LimitExceeded) as raised:
        unpack(base, cache_dir, UnpackLimits(max_files=50), NullProgress())
    assert raised.value.limit == "max_files"
    more = Layer()
    for number in range(60):
        more.file(f"g{number}", b"y")
    two = write_image(tmp_path / "blobs", [many, more])
    with pytest.raises(LimitExceeded):  # 61 + 61 entries over two layers, each under 100
        unpack(two, cache_dir, UnpackLimits(max_files=100), NullProgress())
    with pytest.raises(LimitExceeded) as raised:
        unpack(base, cache_dir, UnpackLimits(max_total_bytes=59), NullProgress())
    assert raised.value.limit == "max_total_bytes"


def _unpack_in_child(image, cache_dir, start, results) -> None:  # type: ignore[no-untyped-def]
    start.wait()
    try:
        rootfs = unpack(image, cache_dir, UnpackLimits(), NullProgress())
        results.put(("ok", [str(p) for p in rootfs.layer_dirs], len(rootfs.entries)))
    except Exception as error:  # reported to the test, which fails on it
        results.put(("error", repr(error), 0))


def test_two_unpacks_of_the_same_layer_at_once_build_it_once(tmp_path, cache_dir):
    layer = Layer()
    for number in range(3000):
        layer.file(f"d{number % 30}/f{number}", b"z" * 200)
    image = write_image(tmp_path / "blobs", [layer])
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(3), context.Queue()
    children = [
        context.Process(target=_unpack_in_child, args=(image, cache_dir, start, results))
        for _ in range(3)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert [o[0] for o in outcomes] == ["ok"] * 3, outcomes
    assert len({tuple(o[1]) for o in outcomes}) == 1
    assert counts(cache_dir) == {"hits": 2, "misses": 1}  # one built it, two waited and used it
    reference = merged_unpack(image, tmp_path / "reference", UnpackLimits())
    rootfs = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert rootfs.entries == reference.entries
    assert tree_listing(rootfs.layer_dirs[0]) == tree_listing(reference.root)


def test_an_image_without_layers_has_an_empty_root(tmp_path, cache_dir):
    image = write_image(tmp_path / "blobs", [])
    rootfs = unpack(image, cache_dir, UnpackLimits(), NullProgress())
    assert rootfs.entries == () and list(rootfs.root.iterdir()) == []


def test_the_work_of_dead_analysers_is_removed_and_the_living_ones_kept(tmp_path: Path) -> None:
    store = LayerStore(tmp_path)
    store.remove_work_of_dead()  # no layers dir yet: nothing to do, no error
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that is dead (reused only after the pid space wraps)
    store.base.mkdir(parents=True)
    dead = store.base / f"{TEMP_PREFIX}{gone.pid}-abc"
    alive = store.base / f"{TEMP_PREFIX}{os.getpid()}-def"
    for work in (dead, alive):
        (work / "root").mkdir(parents=True)
    store.remove_work_of_dead()
    assert not dead.exists()
    assert alive.exists()
