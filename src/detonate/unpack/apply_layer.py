"""Apply one layer's tar entries to the rootfs: whiteouts, hostile names, limits, the index.

Each entry is checked, resolved inside the root by the merged tree, then written by the disk
writer. An entry that cannot be applied safely is refused and recorded as an UnpackIssue; the
rest of the layer goes on. Limits stop the whole unpack with LimitExceeded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tarfile
from dataclasses import dataclass, field

from detonate.errors import MalformedLayer
from detonate.model.filesystem import FileEntry, FileType, UnpackIssue
from detonate.model.options import UnpackLimits
from detonate.unpack.disk import RootWriter, check_fatal
from detonate.unpack.layer_stream import LayerStream
from detonate.unpack.limits import limit_exceeded
from detonate.unpack.merged_tree import (
    MergedTree,
    Node,
    Refused,
    Resolved,
    climbs_above,
    post_order,
    split_entry_name,
)

# tarfile's header errors are not public API (nor in typeshed), but only they tell a clean end
# of the archive from garbage; its own next() takes both for the end.
_END_OF_ARCHIVE = (tarfile.EOFHeaderError, tarfile.EmptyHeaderError)  # type: ignore[attr-defined]
_TRUNCATED_HEADER = tarfile.TruncatedHeaderError  # type: ignore[attr-defined]
_GARBAGE_HEADER = (tarfile.InvalidHeaderError, tarfile.SubsequentHeaderError)  # type: ignore[attr-defined]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


@dataclass
class UnpackState:
    """What carries over from one layer to the next."""

    tree: MergedTree
    writer: RootWriter
    limits: UnpackLimits
    issues: list[UnpackIssue] = field(default_factory=list)
    entries_seen: int = 0
    bytes_written: int = 0
    # What this layer deletes from the layers below: whiteouts and opaque directories.
    whiteouts: set[str] = field(default_factory=set)
    opaques: set[str] = field(default_factory=set)
    longest_name: int = 0  # bytes of the longest entry name or link target (--max-path-bytes)
    largest_file: int = 0  # bytes of the largest regular file entry (--max-file-bytes)


def apply_layer(state: UnpackState, index: int, digest: str, stream: LayerStream) -> None:
    """Read every entry of the tar `stream` and apply it as layer `index`."""
    applier = _LayerApplier(state, index, digest, stream)
    try:
        archive = tarfile.TarFile(fileobj=stream, mode="r")  # type: ignore[arg-type]
        member = archive.next()  # read by the constructor already
        archive.members.clear()  # type: ignore[attr-defined]  # we never look back
        while member is not None:
            applier.apply(member)
            member = _next_member(archive, stream)
    except (tarfile.ReadError, tarfile.HeaderError) as error:
        raise MalformedLayer(
            f"layer {index} ({digest}) is not a readable tar stream: {error}",
            "the image is corrupt or not a container image; re-pull it or check its source",
        ) from None


def _next_member(archive: tarfile.TarFile, stream: LayerStream) -> tarfile.TarInfo | None:
    """tarfile's own `next()` takes a garbage header for the end; we want to know."""
    stream.seek(archive.offset)  # skip the data (and padding) of the previous entry
    try:
        return archive.tarinfo.fromtarfile(archive)
    except _END_OF_ARCHIVE:
        return None  # the end-of-archive zero block, or the stream simply ends on a boundary
    except _TRUNCATED_HEADER:
        raise MalformedLayer("the tar stream ends inside a header (truncated layer)") from None
    except _GARBAGE_HEADER as error:
        raise MalformedLayer(f"garbage where a tar header should be: {error}") from None


class _LayerApplier:
    def __init__(self, state: UnpackState, index: int, digest: str, stream: LayerStream) -> None:
        self.state = state
        self.tree = state.tree
        self.writer = state.writer
        self.limits = state.limits
        self.index = index
        self.digest = digest
        self.stream = stream

    def issue(self, name: str, kind: str, detail: str) -> None:
        self.state.issues.append(UnpackIssue(self.index, name, kind, detail))

    # -- one entry ----------------------------------------------------------------------------

    def apply(self, member: tarfile.TarInfo) -> None:
        self._check_limits(member)
        name = member.name
        try:
            parts, absolute = split_entry_name(name)
            if absolute:
                self.issue(name, "absolute-path", "leading '/' removed; applied inside the root")
            if not parts:
                return  # "./": the root itself, which we own
            last = parts[-1]
            if last.startswith(WHITEOUT_PREFIX):
                self._whiteout(name, parts)
                return
            parent = self.tree.resolve_parent(parts[:-1], self.index)
            if parent.via_symlink:
                where = "/" + "/".join([*parent.names, last])
                self.issue(
                    name, "write-through-symlink", f"a parent is a symlink; written at {where}"
                )
            self._apply_at(member, parent, last)
        except Refused as refused:
            self.issue(name, refused.kind, refused.detail)
        except OSError as error:
            check_fatal(error)
            self.issue(name, "unwritable", f"{error.strerror} (errno {error.errno})")

    def _check_limits(self, member: tarfile.TarInfo) -> None:
        limits, state = self.limits, self.state
        state.entries_seen += 1
        if state.entries_seen > limits.max_files:
            raise limit_exceeded(
                "max_files", f"the layers hold more than {limits.max_files} entries"
            )
        for text in (member.name, member.linkname):
            length = len(text.encode("utf-8", "surrogateescape"))
            state.longest_name = max(state.longest_name, length)
            if length > limits.max_path_bytes:
                raise limit_exceeded(
                    "max_path_bytes",
                    f"a path or link target is longer than {limits.max_path_bytes} bytes "
                    f"(layer {self.index}: {text[:80]}…)",
                )
        if member.isreg():
            state.largest_file = max(state.largest_file, member.size)
            if member.size > limits.max_file_bytes:
                raise limit_exceeded(
                    "max_file_bytes",
                    f"{member.name} is {member.size} bytes, over the limit of "
                    f"{limits.max_file_bytes} for one file",
                )
            if state.bytes_written + member.size > limits.max_total_bytes:
                raise limit_exceeded(
                    "max_total_bytes",
                    f"the layers unpack to more than {limits.max_total_bytes} bytes",
                )

    def _entry(
        self,
        member: tarfile.TarInfo,
        names: list[str],
        type_: FileType,
        size: int = 0,
        link_target: str = "",
        sha256: str = "",
    ) -> FileEntry:
        return FileEntry(
            path="/" + "/".join(names),
            layer_index=self.index,
            layer_digest=self.digest,
            type=type_,
            size=size,
            mode=member.mode & 0o7777,
            uid=member.uid,
            gid=member.gid,
            link_target=link_target,
            sha256=sha256,
        )

    def _make_parents(self, parent: Resolved) -> Node:
        """Create the missing directories of a resolved parent (as tar does, mode 0755)."""
        node = parent.nodes[-1]
        for depth in range(parent.existing, len(parent.names)):
            above, name = parent.names[:depth], parent.names[depth]
            self.writer.mkdir(above, name, 0o755, 0, 0)
            self.state.opaques.add("/" + "/".join(parent.names[: depth + 1]))
            entry = FileEntry(
                "/" + "/".join(parent.names[: depth + 1]),
                self.index,
                self.digest,
                FileType.DIR,
                0,
                0o755,
                0,
                0,
            )
            child = Node(entry, children={})
            self.tree.put(node, name, child, self.index)
            node = child
        return node

    def _apply_at(self, member: tarfile.TarInfo, parent: Resolved, name: str) -> None:
        names = [*parent.names, name]
        if member.ischr() or member.isblk():
            kind = "character" if member.ischr() else "block"
            self.issue(
                member.name,
                "device-node",
                f"{kind} device {member.devmajor}:{member.devminor} not created",
            )
            return
        if not (
            member.isreg() or member.isdir() or member.issym() or member.islnk() or member.isfifo()
        ):
            self.issue(member.name, "unsupported-entry", f"tar type {member.type!r} skipped")
            return
        if member.issparse():
            self.issue(member.name, "unsupported-entry", "GNU sparse file skipped")
            return
        if member.islnk():
            source = self._hardlink_source(member)  # refuse before touching anything
        dir_node = self._make_parents(parent)
        existing = dir_node.children.get(name) if dir_node.children is not None else None

        if member.isdir():
            if existing is not None and existing.is_dir:
                self.writer.set_dir_meta(parent.names, name, member.mode, member.uid, member.gid)
                existing.entry = self._entry(member, names, FileType.DIR)
                existing.touched = self.index
                return
            self._remove(dir_node, parent.names, name)
            # A new directory (not merged into one below) hides whatever the layers below had
            # there: as an overlay layer it is opaque.
            self.writer.mkdir(parent.names, name, member.mode, member.uid, member.gid)
            self.state.opaques.add("/" + "/".join(names))
            node = Node(self._entry(member, names, FileType.DIR), children={})
        elif member.isreg():
            self._remove(dir_node, parent.names, name)
            sha256 = self.writer.write_file(
                parent.names,
                name,
                lambda fd, hasher: self._copy(fd, member.size, hasher),
                member.mode,
                member.uid,
                member.gid,
                int(member.mtime),
            )
            self.state.bytes_written += member.size
            node = Node(self._entry(member, names, FileType.FILE, size=member.size, sha256=sha256))
        elif member.issym():
            target = member.linkname
            if not target.startswith("/") and climbs_above(parent.names, target):
                self.issue(
                    member.name,
                    "link-escape",
                    f"symlink target {target!r} climbs above the root (kept; resolves at /)",
                )
            self._remove(dir_node, parent.names, name)
            self.writer.symlink(
                parent.names, name, target, member.uid, member.gid, int(member.mtime)
            )
            node = Node(self._entry(member, names, FileType.SYMLINK, link_target=target))
        elif member.islnk():
            src_names, src_node = source
            if src_names == names:
                return  # a link to itself: nothing to do
            self._remove(dir_node, parent.names, name)
            src = src_node.entry
            assert src is not None
            self.writer.hardlink(src_names[:-1], src_names[-1], parent.names, name, src.layer_index)
            # One inode: the source's mode and owner are what the link has on disk too.
            node = Node(
                dataclasses.replace(
                    src,
                    path="/" + "/".join(names),
                    layer_index=self.index,
                    layer_digest=self.digest,
                    type=FileType.HARDLINK,
                    link_target=src.path,
                )
            )
        else:  # fifo
            self._remove(dir_node, parent.names, name)
            self.writer.mkfifo(parent.names, name, member.mode, member.uid, member.gid)
            node = Node(self._entry(member, names, FileType.FIFO))
        self.tree.put(dir_node, name, node, self.index)

    def _copy(self, fd: int, size: int, hasher: hashlib._Hash) -> None:
        self.stream.copy_to(fd, size, hasher)

    def _hardlink_source(self, member: tarfile.TarInfo) -> tuple[list[str], Node]:
        """The file a hardlink entry names (an archive path), resolved inside the root."""
        try:
            parts, absolute = split_entry_name(member.linkname)
        except Refused:
            raise Refused(
                "link-escape", f"hardlink to {member.linkname!r} leaves the root"
            ) from None
        if absolute:
            self.issue(
                member.name, "absolute-path", f"hardlink target {member.linkname!r} made relative"
            )
        if not parts:
            raise Refused("hardlink-to-directory", "hardlink to the root directory")
        parent = self.tree.resolve_parent(parts[:-1], self.index)
        source = None
        if parent.existing == len(parent.names):
            source = self.tree.node_at([*parent.names, parts[-1]])
        if source is None:
            raise Refused(
                "hardlink-missing", f"hardlink to {member.linkname!r}, which does not exist"
            )
        if source.is_dir:
            raise Refused("hardlink-to-directory", f"hardlink to directory {member.linkname!r}")
        return [*parent.names, parts[-1]], source

    # -- removal ------------------------------------------------------------------------------

    def _remove(self, dir_node: Node, parent: list[str], name: str) -> None:
        """Remove `name` (a whole subtree for a directory) from disk and from the tree."""
        assert dir_node.children is not None
        node = dir_node.children.get(name)
        if node is None:
            return
        if not node.is_dir:
            self.writer.unlink(parent, name)
        else:
            for path, inner in post_order(node, [*parent, name]):
                if inner.is_dir:
                    self.writer.rmdir(path[:-1], path[-1])
                else:
                    self.writer.unlink(path[:-1], path[-1])
        self.tree.detach(dir_node, name)

    def _whiteout(self, name: str, parts: list[str]) -> None:
        """`.wh.NAME` hides NAME of lower layers; `.wh..wh..opq` hides all lower content of
        its directory. Content this same layer wrote stays (OCI image spec, "Whiteouts")."""
        last = parts[-1]
        parent = self.tree.resolve_parent(parts[:-1], self.index)
        if parent.via_symlink:
            self.issue(name, "write-through-symlink", "whiteout applied through a symlink")
        if parent.existing < len(parent.names):
            return  # the directory does not exist: nothing to hide
        dir_node = parent.nodes[-1]
        if last == OPAQUE_MARKER:
            self._make_opaque(dir_node, parent.names)
            return
        if last.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other AUFS metadata (.wh..wh.plnk, …): not content
        target = last[len(WHITEOUT_PREFIX) :]
        if target in ("", ".", ".."):
            raise Refused("path-traversal", f"whiteout of {target!r}")
        assert dir_node.children is not None
        node = dir_node.children.get(target)
        if node is not None and node.touched != self.index:
            self._remove(dir_node, parent.names, target)
            self._hide(parent.names, target)

    def _hide(self, parent: list[str], name: str) -> None:
        self.writer.hide(parent, name)
        path = "/" + "/".join([*parent, name])
        self.state.whiteouts.add(path)
        self.state.opaques.discard(path)

    def _make_opaque(self, dir_node: Node, names: list[str]) -> None:
        if not names:  # the root cannot be opaque in an overlay: its children are, or hidden
            assert dir_node.children is not None
            for child_name, child in list(dir_node.children.items()):
                if child.touched != self.index:
                    self._remove(dir_node, [], child_name)
                    self._hide([], child_name)
                elif child.is_dir:
                    self._make_opaque(child, [child_name])
            return
        self.writer.make_opaque(names)
        self.state.opaques.add("/" + "/".join(names))
        stack = [(dir_node, names)]
        while stack:
            node, path = stack.pop()
            assert node.children is not None
            for child_name, child in list(node.children.items()):
                if child.touched != self.index:
                    self._remove(node, path, child_name)
                elif child.is_dir:
                    stack.append((child, [*path, child_name]))
