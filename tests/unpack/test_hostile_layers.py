"""Hostile layers: nothing is ever written outside the rootfs; each trick is refused or
neutralised and recorded as an UnpackIssue (the `outside` fixture checks the host side)."""

from __future__ import annotations

import os

from unpack_images import Layer

from detonate.model.filesystem import FileType


def kinds(rootfs) -> set[str]:
    return {issue.kind for issue in rootfs.issues}


def test_absolute_names_are_made_relative_and_recorded(unpack_layers, outside):
    rootfs = unpack_layers([Layer().file(f"{outside}/dropped", b"x").file("/etc/abs", b"y")])
    assert (rootfs.root / "etc/abs").read_bytes() == b"y"
    assert (rootfs.root / str(outside).lstrip("/") / "dropped").exists()
    assert kinds(rootfs) == {"absolute-path"}
    assert {i.path for i in rootfs.issues} == {f"{outside}/dropped", "/etc/abs"}


def test_dot_dot_traversal_is_refused(unpack_layers, outside, tmp_path):
    depth = len(tmp_path.parts) + 8
    escape = "../" * depth + str(outside).lstrip("/") + "/owned"
    rootfs = unpack_layers([Layer().file(escape, b"x").file("a/../../b", b"y").file("ok", b"z")])
    assert kinds(rootfs) == {"path-traversal"}
    assert len(rootfs.issues) == 2
    assert [e.path for e in rootfs.entries] == ["/ok"]  # the scan goes on after refusals


def test_symlink_to_a_host_dir_then_write_through_it_stays_inside(unpack_layers, outside):
    layer = Layer().symlink("evil", str(outside)).file("evil/owned", b"x")
    rootfs = unpack_layers([layer])
    inside = rootfs.root / str(outside).lstrip("/") / "owned"
    assert inside.read_bytes() == b"x"  # where the container would see it: under its own root
    assert "write-through-symlink" in kinds(rootfs)
    assert rootfs.by_path()[f"{outside}/owned"].type == FileType.FILE


def test_relative_symlink_climbing_out_then_write_through_is_refused(unpack_layers, outside):
    layer = Layer().symlink("up", "../../../../../../../../../..").file("up/escaped", b"x")
    rootfs = unpack_layers([layer])
    assert os.readlink(rootfs.root / "up") == "../../../../../../../../../.."  # kept as text
    assert "link-escape" in kinds(rootfs)
    refused = [i for i in rootfs.issues if i.path == "up/escaped"]
    assert [i.kind for i in refused] == ["link-escape"]
    assert "/escaped" not in rootfs.by_path()


def test_etc_as_symlink_to_root_across_layers(unpack_layers, outside):
    """Layer 1 makes /etc a symlink to /, layer 2 writes etc/passwd: lands at the image's /."""
    rootfs = unpack_layers([Layer().symlink("etc", "/"), Layer().file("etc/passwd", b"evil\n")])
    assert (rootfs.root / "passwd").read_bytes() == b"evil\n"
    assert rootfs.by_path()["/passwd"].layer_index == 1
    assert "write-through-symlink" in kinds(rootfs)


def test_symlink_inside_the_image_to_etc_shadow_is_fine(unpack_layers):
    rootfs = unpack_layers([Layer().symlink("app/secret", "/etc/shadow")])
    assert rootfs.issues == ()
    assert os.readlink(rootfs.root / "app/secret") == "/etc/shadow"


def test_directory_replaced_by_symlink_then_written_through(unpack_layers, outside):
    layer = (
        Layer()
        .dir("data")
        .file("data/a", b"a")
        .symlink("data", str(outside))
        .file("data/owned", b"x")
    )
    rootfs = unpack_layers([layer])
    assert (rootfs.root / "data").is_symlink()
    assert (rootfs.root / str(outside).lstrip("/") / "owned").exists()
    assert "write-through-symlink" in kinds(rootfs)


def test_hardlink_out_of_the_root_is_refused(unpack_layers, outside, tmp_path):
    climb = "../" * (len(tmp_path.parts) + 8) + str(outside / "sentinel").lstrip("/")
    rootfs = unpack_layers([Layer().hardlink("grab", climb)])
    assert kinds(rootfs) == {"link-escape"}
    assert not (rootfs.root / "grab").exists()


def test_hardlink_to_an_absolute_host_path_stays_inside(unpack_layers, outside):
    rootfs = unpack_layers([Layer().hardlink("grab", str(outside / "sentinel"))])
    # resolved inside the image, where there is no such file
    assert "hardlink-missing" in kinds(rootfs)
    assert not (rootfs.root / "grab").exists()


def test_hardlink_to_a_missing_target_is_refused(unpack_layers):
    rootfs = unpack_layers([Layer().hardlink("link", "not/there").file("after", b"ok")])
    assert kinds(rootfs) == {"hardlink-missing"}
    assert (rootfs.root / "after").exists()


def test_hardlink_through_a_symlinked_dir_does_not_reach_the_host(unpack_layers, outside):
    layer = Layer().symlink("h", str(outside)).hardlink("grab", "h/sentinel")
    rootfs = unpack_layers([layer])
    assert "hardlink-missing" in kinds(rootfs)
    assert not (rootfs.root / "grab").exists()


def test_device_nodes_are_not_created(unpack_layers):
    rootfs = unpack_layers([Layer().device("dev/sda", char=False, major=8).device("dev/mem")])
    assert [i.kind for i in rootfs.issues] == ["device-node", "device-node"]
    assert not (rootfs.root / "dev/sda").exists()
    assert not (rootfs.root / "dev/mem").exists()
    assert "block device 8:3" in rootfs.issues[0].detail


def test_symlink_loop_on_a_path_is_refused(unpack_layers):
    rootfs = unpack_layers([Layer().symlink("a", "b").symlink("b", "a").file("a/x", b"x")])
    assert "symlink-loop" in kinds(rootfs)


def test_file_used_as_a_directory_is_refused(unpack_layers):
    rootfs = unpack_layers([Layer().file("f", b"x").file("f/g", b"y")])
    assert "not-a-directory" in kinds(rootfs)
    assert (rootfs.root / "f").read_bytes() == b"x"


def test_a_deeply_nested_tree_unpacks(unpack_layers):
    deep = "/".join(["d"] * 1500)  # deeper than Python's recursion limit
    rootfs = unpack_layers([Layer().file(f"{deep}/leaf", b"x")])
    assert rootfs.by_path()[f"/{deep}/leaf"].size == 1


def test_a_file_entry_over_a_symlink_replaces_the_link(unpack_layers, outside):
    lower = Layer().symlink("etc/passwd", str(outside / "sentinel"))
    upper = Layer().file("etc/passwd", b"root:x:0:0\n")
    rootfs = unpack_layers([lower, upper])
    assert not (rootfs.root / "etc/passwd").is_symlink()
    assert (rootfs.root / "etc/passwd").read_bytes() == b"root:x:0:0\n"
    assert rootfs.by_path()["/etc/passwd"].type == FileType.FILE
