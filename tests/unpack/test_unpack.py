"""Layers merge into one rootfs with an index that matches what is on disk."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from unpack_images import DOCKER_GZIP, OCI_TAR, OCI_ZSTD, Layer

from detonate.model.filesystem import FileType
from detonate.model.options import CONTAINER_ID_BASE

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="ownership on disk needs root")


def base_layer() -> Layer:
    return (
        Layer()
        .dir("etc")
        .file("etc/hostname", b"box\n")
        .dir("tmp", mode=0o1777)
        .dir("usr/bin")
        .file("usr/bin/su", b"\x7fELF su", mode=0o4755)
        .file("usr/bin/wall", b"\x7fELF wall", mode=0o2755, gid=5)
        .hardlink("usr/bin/su-again", "usr/bin/su")
        .symlink("bin", "usr/bin")
        .symlink("etc/shadow-link", "/etc/shadow")
        .file("home/app/notes.txt", b"hello", uid=1000, gid=1000, mode=0o600)
        .fifo("run/initctl")
    )


def test_index_records_every_path_with_header_metadata(unpack_layers):
    rootfs = unpack_layers([base_layer()])
    by_path = rootfs.by_path()

    su = by_path["/usr/bin/su"]
    assert su.type == FileType.FILE
    assert su.mode == 0o4755
    assert su.size == len(b"\x7fELF su")
    assert su.sha256 == hashlib.sha256(b"\x7fELF su").hexdigest()
    assert su.layer_index == 0
    assert su.layer_digest.startswith("sha256:")
    assert by_path["/usr/bin/wall"].mode == 0o2755
    assert by_path["/usr/bin/wall"].gid == 5
    notes = by_path["/home/app/notes.txt"]
    assert (notes.uid, notes.gid, notes.mode) == (1000, 1000, 0o600)
    assert by_path["/bin"].type == FileType.SYMLINK
    assert by_path["/bin"].link_target == "usr/bin"
    link = by_path["/usr/bin/su-again"]
    assert link.type == FileType.HARDLINK
    assert link.link_target == "/usr/bin/su"
    assert link.sha256 == su.sha256
    assert by_path["/tmp"].mode == 0o1777
    assert by_path["/home"].type == FileType.DIR  # implied by home/app/notes.txt
    assert by_path["/run/initctl"].type == FileType.FIFO
    assert [e.path for e in rootfs.entries] == sorted(by_path)
    assert rootfs.issues == ()
    assert rootfs.layers == 1
    assert rootfs.bytes_unpacked == sum(e.size for e in rootfs.entries if e.type == FileType.FILE)


def test_disk_matches_the_index(unpack_layers):
    rootfs = unpack_layers([base_layer()])
    for entry in rootfs.entries:
        info = os.lstat(rootfs.host_path(entry))
        assert stat.S_IMODE(info.st_mode) == entry.mode or entry.type == FileType.SYMLINK
        if entry.type == FileType.FILE:
            data = rootfs.host_path(entry).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry.sha256
    su = os.lstat(rootfs.root / "usr/bin/su")
    assert su.st_ino == os.lstat(rootfs.root / "usr/bin/su-again").st_ino
    assert os.readlink(rootfs.root / "etc/shadow-link") == "/etc/shadow"  # kept, never followed
    assert stat.S_ISFIFO(os.lstat(rootfs.root / "run/initctl").st_mode)


@as_root
def test_disk_owners_are_shifted_into_the_container_range(unpack_layers):
    rootfs = unpack_layers([Layer().file("a", uid=0, gid=0).file("b", uid=1000, gid=50)])
    a, b = os.lstat(rootfs.root / "a"), os.lstat(rootfs.root / "b")
    assert (a.st_uid, a.st_gid) == (CONTAINER_ID_BASE, CONTAINER_ID_BASE)
    assert (b.st_uid, b.st_gid) == (CONTAINER_ID_BASE + 1000, CONTAINER_ID_BASE + 50)
    assert os.lstat(rootfs.root).st_uid == CONTAINER_ID_BASE


@as_root
def test_ids_beyond_the_mapped_range_become_nobody(unpack_layers):
    rootfs = unpack_layers([Layer().file("far", uid=70_000, gid=70_000)])
    assert os.lstat(rootfs.root / "far").st_uid == CONTAINER_ID_BASE + 65534
    assert rootfs.by_path()["/far"].uid == 70_000  # the index keeps the image's id


def test_upper_layer_replaces_files_dirs_and_links(unpack_layers):
    lower = Layer().file("a", b"old").dir("d").file("d/inner", b"x").symlink("s", "a")
    upper = Layer().file("a", b"new").file("d", b"now a file").dir("s")
    rootfs = unpack_layers([lower, upper])
    by_path = rootfs.by_path()
    assert (rootfs.root / "a").read_bytes() == b"new"
    assert by_path["/a"].layer_index == 1
    assert (rootfs.root / "d").read_bytes() == b"now a file"
    assert "/d/inner" not in by_path
    assert (rootfs.root / "s").is_dir() and not (rootfs.root / "s").is_symlink()
    assert by_path["/s"].type == FileType.DIR


def test_rewriting_a_hardlinked_file_leaves_the_link_alone(unpack_layers):
    lower = Layer().file("orig", b"one").hardlink("link", "orig")
    upper = Layer().file("orig", b"two")
    rootfs = unpack_layers([lower, upper])
    assert (rootfs.root / "link").read_bytes() == b"one"
    assert (rootfs.root / "orig").read_bytes() == b"two"


@pytest.mark.parametrize("media_type", [OCI_TAR, OCI_ZSTD, DOCKER_GZIP])
def test_every_layer_compression_unpacks(unpack_layers, media_type):
    rootfs = unpack_layers([Layer().file("etc/os-release", b"ID=test\n")], media_type=media_type)
    assert (rootfs.root / "etc/os-release").read_bytes() == b"ID=test\n"


def test_no_layers_give_an_empty_rootfs(unpack_layers):
    rootfs = unpack_layers([])
    assert rootfs.entries == ()
    assert list(rootfs.root.iterdir()) == []


def test_names_that_are_not_utf8_survive_disk_and_cache(tmp_path, unpack_image):
    import io
    import tarfile

    from unpack_images import OCI_TAR, write_image

    buffer = io.BytesIO()
    with tarfile.TarFile(
        fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT, errors="surrogateescape"
    ) as tar:
        info = tarfile.TarInfo(os.fsdecode(b"caf\xe9"))
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    image = write_image(tmp_path / "blobs", [buffer.getvalue()], media_type=OCI_TAR)
    first = unpack_image(image)
    assert (first.root / os.fsdecode(b"caf\xe9")).read_bytes() == b"ok"
    assert unpack_image(image).entries == first.entries  # through index.json and back
