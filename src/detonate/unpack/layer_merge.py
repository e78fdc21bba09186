"""The merged index of an image from its layers' records, as an overlay mount would show it.

Only indexes are read, never file contents. For each layer, bottom first:

    whiteouts   delete the path and everything under it
    opaques     delete everything under the directory (it stays) but what the layer touched
    entries     a directory over a directory merges (the upper's metadata wins); anything else
                replaces the path and everything under it

Paths in records are resolved (no symlink on the way), so this is a walk of plain names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from detonate.model.filesystem import FileEntry, FileType
from detonate.unpack.layer_index import LayerRecord
from detonate.unpack.merged_tree import MergedTree, Node


@dataclass(eq=False, slots=True)
class _Dir:
    entry: FileEntry | None
    children: dict[str, _Dir | FileEntry] = field(default_factory=dict)


def _names(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _parent(root: _Dir, names: list[str]) -> _Dir | None:
    node = root
    for name in names:
        child = node.children.get(name)
        if not isinstance(child, _Dir):
            return None
        node = child
    return node


def merge_records(records: Sequence[LayerRecord]) -> list[FileEntry]:
    """Every path of the image, sorted by path (the same list a merged unpack indexes)."""
    root = _Dir(entry=None)
    for record in records:
        if not root.children:  # the bottom layer: nothing below to delete or hide
            record = LayerRecord(record.entries)
        for path in record.whiteouts:
            names = _names(path)
            parent = _parent(root, names[:-1]) if names else None
            if parent is not None:
                parent.children.pop(names[-1], None)
        if record.opaques:
            touched = _touched(record)
            for path in record.opaques:
                opaque = _parent(root, _names(path))
                if opaque is not None:
                    _hide_below(opaque, path.rstrip("/"), touched)
        dirs: dict[str, _Dir] = {"": root}  # this layer's parents, looked up once each
        for entry in sorted(record.entries, key=lambda e: e.path.count("/")):
            parent_path, _, name = entry.path.rpartition("/")
            parent = dirs.get(parent_path)
            if parent is None:
                parent = _parent(root, _names(parent_path))
                if parent is None or not name:
                    continue  # cannot happen for a record unpack wrote: its parents come first
                dirs[parent_path] = parent
            existing = parent.children.get(name)
            if entry.type is FileType.DIR:
                if isinstance(existing, _Dir):
                    existing.entry = entry
                else:
                    existing = parent.children[name] = _Dir(entry)
                dirs[entry.path] = existing
            else:
                parent.children[name] = entry
    found: list[FileEntry] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.entry is not None:
            found.append(node.entry)
        for child in node.children.values():
            if isinstance(child, _Dir):
                stack.append(child)
            else:
                found.append(child)
    found.sort(key=lambda e: e.path)
    return found


def _touched(record: LayerRecord) -> set[str]:
    """The paths the layer wrote or wrote through, and their parents."""
    touched: set[str] = set()
    for path in [*(e.path for e in record.entries), *record.carried]:
        while path and path not in touched:
            touched.add(path)
            path = path.rpartition("/")[0]
    return touched


def _hide_below(opaque: _Dir, path: str, touched: set[str]) -> None:
    """An opaque dir keeps only what its layer touched (as apply_layer's _make_opaque)."""
    stack = [(opaque, path)]
    while stack:
        node, here = stack.pop()
        for name, child in list(node.children.items()):
            child_path = f"{here}/{name}"
            if child_path not in touched:
                del node.children[name]
            elif isinstance(child, _Dir):
                stack.append((child, child_path))


def tree_from_entries(entries: Sequence[FileEntry]) -> MergedTree:
    """The merged tree of the layers below the one to unpack next (entries sorted by path)."""
    tree = MergedTree()
    nodes: dict[str, Node] = {"": tree.root}
    for entry in entries:
        parent_path, _, name = entry.path.rpartition("/")
        parent = nodes.get(parent_path)
        if parent is None or parent.children is None:
            continue
        node = Node(entry, children={} if entry.type is FileType.DIR else None)
        parent.children[name] = node
        if node.children is not None:
            nodes[entry.path] = node
    return tree
