"""The merged filesystem as it stands after the layers applied so far, in memory.

Every change on disk goes through here first, so the tree knows exactly what is on disk: which
names are real directories and where each symlink points. Paths are resolved like the container
will see them, inside the image root (an absolute symlink target starts again at the image root),
and the resolved path is what gets written and indexed, so an indexed path never crosses a
symlink.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from detonate.model.filesystem import FileEntry, FileType

MAX_SYMLINK_HOPS = 40  # as the kernel's MAXSYMLINKS


class Refused(Exception):
    """A tar entry that is not applied; becomes an UnpackIssue."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(eq=False, slots=True)
class Node:
    entry: FileEntry | None  # None only for the root
    children: dict[str, Node] | None = None  # directories only
    touched: int = -1  # last layer that wrote this path or something below it

    @property
    def is_dir(self) -> bool:
        return self.children is not None


@dataclass
class Resolved:
    """Where a parent directory really is: `names[:existing]` exist, the rest are to create."""

    names: list[str]
    existing: int
    via_symlink: bool = False
    nodes: list[Node] = field(default_factory=list)  # the existing ones, root first


def split_entry_name(name: str) -> tuple[list[str], bool]:
    """ "./usr//bin/env" → (["usr", "bin", "env"], False); "/etc/x" → (["etc", "x"], True).

    Raises Refused for any ".." component: a layer has no business naming one.
    """
    absolute = name.startswith("/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused("path-traversal", "'..' in the entry name")
    return parts, absolute


def climbs_above(directory: list[str], target: str) -> bool:
    """Whether a relative symlink target in `directory` climbs above the root ("../../..")."""
    depth = len(directory)
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


class MergedTree:
    def __init__(self) -> None:
        self.root = Node(entry=None, children={})

    def resolve_parent(self, parts: list[str], layer: int) -> Resolved:
        """Resolve the directory `parts` inside the root, following symlinks as the container
        would. Marks existing directories on the way as touched by `layer`."""
        nodes: list[Node] = [self.root]
        names: list[str] = []
        virtual = 0  # trailing names that do not exist yet
        todo = list(reversed(parts))
        hops = 0
        via_symlink = False
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if virtual:
                    virtual -= 1
                    names.pop()
                elif len(nodes) > 1:
                    nodes.pop()
                    names.pop()
                else:
                    raise Refused("link-escape", "a symlink on the path climbs above the root")
                continue
            if virtual:
                names.append(part)
                virtual += 1
                continue
            children = nodes[-1].children
            assert children is not None
            child = children.get(part)
            if child is None:
                names.append(part)
                virtual = 1
            elif child.is_dir:
                nodes.append(child)
                names.append(part)
            elif child.entry is not None and child.entry.type == FileType.SYMLINK:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise Refused("symlink-loop", "too many symlinks on the path")
                via_symlink = True
                target = child.entry.link_target
                if target.startswith("/"):
                    nodes, names = [self.root], []
                todo.extend(reversed(target.split("/")))
            else:
                raise Refused("not-a-directory", f"/{'/'.join([*names, part])} is not a directory")
        for node in nodes:
            node.touched = layer
        return Resolved(names, len(names) - virtual, via_symlink, nodes)

    def node_at(self, names: list[str]) -> Node | None:
        """The node at a real path (no symlink following), or None."""
        node = self.root
        for name in names:
            if node.children is None:
                return None
            child = node.children.get(name)
            if child is None:
                return None
            node = child
        return node

    def put(self, parent: Node, name: str, node: Node, layer: int) -> None:
        assert parent.children is not None
        node.touched = layer
        parent.children[name] = node

    def detach(self, parent: Node, name: str) -> Node | None:
        assert parent.children is not None
        return parent.children.pop(name, None)

    def entries(self) -> list[FileEntry]:
        """Every path of the merged filesystem, sorted by path."""
        found: list[FileEntry] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.entry is not None:
                found.append(node.entry)
            if node.children:
                stack.extend(node.children.values())
        found.sort(key=lambda e: e.path)
        return found


def post_order(node: Node, names: list[str]) -> Iterator[tuple[list[str], Node]]:
    """Every path under and including `node` (at `names`), children before their parent."""
    stack: list[tuple[list[str], Node, bool]] = [(names, node, False)]
    while stack:
        path, current, expanded = stack.pop()
        if expanded or not current.children:
            yield path, current
            continue
        stack.append((path, current, True))
        for name, child in current.children.items():
            stack.append(([*path, name], child, False))
