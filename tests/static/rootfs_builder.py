"""Build small Rootfs objects over temp dirs for static tests, without the unpack stage.

A sample is described by `SampleFile`s (or by YAML, see `files_from_yaml`); parent directories
are added to the index as the unpacker would.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from detonate.model.filesystem import FileEntry, FileType, Rootfs
from detonate.model.image import AcquiredImage, HistoryEntry, ImageConfig, Platform


@dataclass(frozen=True)
class SampleFile:
    path: str
    content: bytes = b""
    mode: int = 0o644
    type: FileType = FileType.FILE
    link_target: str = ""
    uid: int = 0
    gid: int = 0
    layer: int = 0


def build_rootfs(root: Path, files: Iterable[SampleFile]) -> Rootfs:
    entries: dict[str, FileEntry] = {}
    root.mkdir(parents=True, exist_ok=True)
    for sample in files:
        parts = sample.path.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            (root / parent.lstrip("/")).mkdir(parents=True, exist_ok=True)
            entries.setdefault(
                parent,
                FileEntry(parent, sample.layer, "sha256:layer", FileType.DIR, 0, 0o755, 0, 0),
            )
        target = root / sample.path.lstrip("/")
        sha256 = ""
        if sample.type is FileType.FILE:
            target.write_bytes(sample.content)
            sha256 = hashlib.sha256(sample.content).hexdigest()
        elif sample.type is FileType.DIR:
            target.mkdir(exist_ok=True)
        elif sample.type is FileType.SYMLINK:
            os.symlink(sample.link_target, target)
        entries[sample.path] = FileEntry(
            path=sample.path,
            layer_index=sample.layer,
            layer_digest=f"sha256:layer{sample.layer}",
            type=sample.type,
            size=len(sample.content) if sample.type is FileType.FILE else 0,
            mode=sample.mode,
            uid=sample.uid,
            gid=sample.gid,
            link_target=sample.link_target,
            sha256=sha256,
        )
    ordered = tuple(entries[p] for p in sorted(entries))
    return Rootfs(
        root=root, entries=ordered, layers=1 + max((e.layer_index for e in ordered), default=0)
    )


def files_from_yaml(items: Iterable[Mapping[str, object]]) -> list[SampleFile]:
    """`{path: /tmp/x, mode: "0o755", content: "…", type: file, link_target: …}` → SampleFile."""
    files = []
    for item in items:
        mode = item.get("mode", "0o644")
        files.append(
            SampleFile(
                path=str(item["path"]),
                content=str(item.get("content", "")).encode(),
                mode=mode if isinstance(mode, int) else int(str(mode), 0),
                type=FileType(str(item.get("type", "file"))),
                link_target=str(item.get("link_target", "")),
                uid=int(str(item.get("uid", 0))),
                layer=int(str(item.get("layer", 0))),
            )
        )
    return files


def make_image(config: ImageConfig | None = None) -> AcquiredImage:
    return AcquiredImage(
        reference="oci-archive:sample.tar",
        digest="sha256:" + "0" * 64,
        platform=Platform(),
        config_digest="sha256:" + "1" * 64,
        config=config or ImageConfig(user="app"),
        layers=(),
        blobs_dir=Path("/nonexistent"),
    )


def config_from_yaml(data: Mapping[str, object]) -> ImageConfig:
    """`{entrypoint: [...], cmd: [...], env: [...], user: x, exposed_ports: [...],
    labels: {k: v}, healthcheck: [...], history: ["created_by", …]}` → ImageConfig."""

    def strings(key: str) -> tuple[str, ...]:
        value = data.get(key) or ()
        assert isinstance(value, list | tuple), key
        return tuple(str(v) for v in value)

    labels = data.get("labels") or {}
    assert isinstance(labels, Mapping)
    return ImageConfig(
        entrypoint=strings("entrypoint"),
        cmd=strings("cmd"),
        env=strings("env"),
        user=str(data.get("user", "app")),
        exposed_ports=strings("exposed_ports"),
        labels=tuple((str(k), str(v)) for k, v in labels.items()),
        healthcheck=strings("healthcheck"),
        history=tuple(HistoryEntry(created_by=step) for step in strings("history")),
    )
