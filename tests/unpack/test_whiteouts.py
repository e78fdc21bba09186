"""OCI whiteouts: `.wh.NAME` deletes NAME from lower layers, `.wh..wh..opq` empties a directory
of its lower content; both on disk and in the index."""

from __future__ import annotations

from unpack_images import Layer


def lower() -> Layer:
    return (
        Layer()
        .dir("etc")
        .file("etc/passwd", b"root\n")
        .file("etc/group", b"root\n")
        .dir("var/cache/apt")
        .file("var/cache/apt/pkgcache.bin", b"cache")
        .file("var/cache/apt/archives/x.deb", b"deb")
        .file("var/cache/keep", b"keep")
    )


def paths(rootfs):
    return {e.path for e in rootfs.entries}


def test_whiteout_removes_a_lower_file(unpack_layers):
    rootfs = unpack_layers([lower(), Layer().whiteout("etc/passwd")])
    assert not (rootfs.root / "etc/passwd").exists()
    assert "/etc/passwd" not in paths(rootfs)
    assert "/etc/group" in paths(rootfs)
    assert not any(".wh." in p for p in paths(rootfs))
    assert not any(".wh." in p.name for p in rootfs.root.rglob("*"))


def test_whiteout_removes_a_lower_directory_tree(unpack_layers):
    rootfs = unpack_layers([lower(), Layer().whiteout("var/cache/apt")])
    assert not (rootfs.root / "var/cache/apt").exists()
    assert not any(p.startswith("/var/cache/apt") for p in paths(rootfs))
    assert (rootfs.root / "var/cache/keep").exists()


def test_opaque_directory_hides_lower_content_but_keeps_its_own(unpack_layers):
    upper = Layer().dir("var/cache").opaque("var/cache").file("var/cache/fresh", b"new")
    rootfs = unpack_layers([lower(), upper])
    assert sorted(p.name for p in (rootfs.root / "var/cache").iterdir()) == ["fresh"]
    assert {p for p in paths(rootfs) if p.startswith("/var/cache/")} == {"/var/cache/fresh"}


def test_opaque_marker_after_the_layers_own_files_keeps_them(unpack_layers):
    upper = Layer().file("var/cache/apt/new.bin", b"new").opaque("var/cache")
    rootfs = unpack_layers([lower(), upper])
    assert {p for p in paths(rootfs) if p.startswith("/var/cache/")} == {
        "/var/cache/apt",
        "/var/cache/apt/new.bin",
    }
    assert not (rootfs.root / "var/cache/apt/pkgcache.bin").exists()


def test_whiteout_does_not_hide_files_of_its_own_layer(unpack_layers):
    upper = Layer().file("etc/motd", b"hi").whiteout("etc/motd")
    rootfs = unpack_layers([lower(), upper])
    assert (rootfs.root / "etc/motd").read_bytes() == b"hi"


def test_a_later_layer_can_recreate_a_whited_out_path(unpack_layers):
    rootfs = unpack_layers(
        [lower(), Layer().whiteout("etc/passwd"), Layer().file("etc/passwd", b"again\n")]
    )
    assert (rootfs.root / "etc/passwd").read_bytes() == b"again\n"
    assert rootfs.by_path()["/etc/passwd"].layer_index == 2


def test_whiteout_of_a_missing_path_is_harmless(unpack_layers):
    rootfs = unpack_layers([lower(), Layer().whiteout("nothing/here").whiteout("etc/nope")])
    assert rootfs.issues == ()
    assert not (rootfs.root / "nothing").exists()
