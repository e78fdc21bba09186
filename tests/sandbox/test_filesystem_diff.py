from __future__ import annotations

import os
from pathlib import Path

from detonate.model.runtime import ChangeKind, ContentType
from detonate.sandbox import filesystem_diff
from detonate.sandbox.filesystem_diff import content_type, diff_upper


def test_content_types_by_magic() -> None:
    assert content_type(b"\x7fELF\x02") == ContentType.ELF
    assert content_type(b"#!/bin/sh\n") == ContentType.SCRIPT
    assert content_type(b"\x1f\x8b\x08") == ContentType.ARCHIVE
    assert content_type(bytes(257) + b"ustar") == ContentType.ARCHIVE
    assert content_type(b"hello") == ContentType.OTHER


def test_upper_dir_becomes_created_modified_deleted(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lower, upper, artifacts = tmp_path / "lower", tmp_path / "upper", tmp_path / "art"
    for d in (lower / "etc", upper / "etc", upper / "tmp", artifacts):
        d.mkdir(parents=True)
    (lower / "etc" / "motd").write_text("old")
    (lower / "etc" / "gone").write_text("x")
    (upper / "etc" / "motd").write_text("new")
    os.mknod(upper / "etc" / "gone", 0o600 | 0o020000, os.makedev(0, 0))  # whiteout
    (upper / "tmp" / "big.bin").write_bytes(b"\x7fELF" + bytes(5000))
    (upper / "tmp" / "l").symlink_to("/etc/shadow")
    monkeypatch.setattr(filesystem_diff, "ARTIFACT_FILE_CAP", 1000)

    changes = {c.path: c for c in diff_upper(upper, lower, frozenset({"/tmp/big.bin"}), artifacts)}

    assert set(changes) == {"/etc/motd", "/etc/gone", "/tmp", "/tmp/big.bin", "/tmp/l"}
    assert changes["/etc/motd"].change == ChangeKind.MODIFIED
    assert changes["/etc/gone"].change == ChangeKind.DELETED
    big = changes["/tmp/big.bin"]
    assert big.change == ChangeKind.CREATED and big.content_type == ContentType.ELF
    assert big.executed and big.artifact_truncated and big.size == 5004
    assert (artifacts / big.artifact).stat().st_size == 1000
    assert changes["/tmp/l"].link_target == "/etc/shadow"


def test_what_the_setup_planted_is_a_change_only_when_the_sample_touches_it(
    tmp_path: Path,
) -> None:
    from detonate.sandbox.filesystem_diff import snapshot_upper

    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "root").mkdir(parents=True)
    for name in ("kept", "edited", "shredded"):
        (upper / "root" / ".aws").mkdir(parents=True, exist_ok=True)
        (upper / "root" / ".aws" / name).write_text("bait")
    setup = snapshot_upper(upper)
    (upper / "root" / ".aws" / "edited").write_text("bait, edited")
    (upper / "root" / ".aws" / "shredded").unlink()
    (upper / "root" / ".aws" / "new").write_text("x")

    changes = {c.path: c.change for c in diff_upper(upper, lower, frozenset(), None, setup)}

    assert changes == {
        "/root/.aws/edited": ChangeKind.MODIFIED,
        "/root/.aws/shredded": ChangeKind.DELETED,
        "/root/.aws/new": ChangeKind.CREATED,
    }
