"""Removing unpacked trees: image modes (0555 dirs), hostile depth, no symlink following."""

from __future__ import annotations

import os
from pathlib import Path

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(top: Path) -> None:
    """`rm -rf top` without recursion (hostile trees nest thousands of levels deep), without
    following symlinks, and with one directory fd open at a time."""
    parent = os.open(top.parent, _DIR)
    try:
        remove_tree_at(parent, top.name)
    finally:
        os.close(parent)


def remove_tree_at(parent_fd: int, name: str) -> None:
    """`rm -rf name` in the directory `parent_fd` (see remove_tree)."""
    owner = os.geteuid() == 0
    top = name
    names: list[str] = []
    fd = os.open(top, _DIR, dir_fd=parent_fd)
    try:
        while True:
            if not owner:
                os.fchmod(fd, 0o700)  # image modes like 0555 would stop an unprivileged unlink
            with os.scandir(fd) as listing:
                children = [(e.name, e.is_dir(follow_symlinks=False)) for e in listing]
            subdir = next((name for name, is_dir in children if is_dir), None)
            for name, is_dir in children:
                if not is_dir:
                    os.unlink(name, dir_fd=fd)
            if subdir is not None:
                child = os.open(subdir, _DIR, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(subdir)
                continue
            if not names:
                break
            parent = os.open("..", _DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(top, dir_fd=parent_fd)
