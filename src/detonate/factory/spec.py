"""What an image is made of, as frozen records: the factory's input.

An `ImageSpec` lists layers; a layer is either friendly (`LayerSpec`: files described by path,
content and mode) or hostile (`RawLayer`: arbitrary tar headers and bytes; `BlobLayer`: the
exact blob bytes, e.g. a gzip bomb or a truncated stream), so tests can craft what attackers ship.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FileType = Literal["file", "dir", "symlink", "hardlink"]

DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class FileSpec:
    """One entry of a layer. `content` or `source` give a regular file's bytes."""

    path: str  # absolute path inside the image: "/etc/passwd"
    content: bytes | None = None
    source: Path | None = None
    mode: int | None = None  # default: 0o755 for dirs, 0o644 for files, 0o777 for symlinks
    type: FileType = "file"
    link_target: str = ""  # symlink target as written, or hardlink target path in the image
    uid: int = 0
    gid: int = 0

    def data(self) -> bytes:
        if self.content is not None:
            return self.content
        if self.source is not None:
            return self.source.read_bytes()
        return b""

    def effective_mode(self) -> int:
        if self.mode is not None:
            return self.mode
        return {"dir": 0o755, "symlink": 0o777}.get(self.type, 0o644)


@dataclass(frozen=True)
class LayerSpec:
    """A layer made of files; missing parent directories are added (0755, root)."""

    files: tuple[FileSpec, ...]
    created_by: str = ""
    comment: str = ""


@dataclass(frozen=True)
class RawEntry:
    """A tar header used as given (name, type, mode, linkname, size …) plus its data."""

    info: tarfile.TarInfo
    data: bytes = b""


@dataclass(frozen=True)
class RawLayer:
    """Hostile layers: entries written in the order given, nothing added or normalised."""

    entries: tuple[RawEntry, ...]
    created_by: str = ""
    compression: Literal["gzip", "none"] = "gzip"


@dataclass(frozen=True)
class BlobLayer:
    """A layer blob used byte for byte. `diff_id` defaults to the sha256 of `uncompressed`."""

    blob: bytes
    media_type: str = OCI_LAYER_GZIP
    uncompressed: bytes | None = None  # to compute the diff_id; else diff_id must be given
    diff_id: str = ""
    created_by: str = ""


Layer = LayerSpec | RawLayer | BlobLayer


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]  # ("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/")
    interval_seconds: int = 30
    timeout_seconds: int = 5
    retries: int = 3


@dataclass(frozen=True)
class ImageSpec:
    name: str
    layers: tuple[Layer, ...]
    tag: str = "latest"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = (DEFAULT_PATH_ENV,)
    user: str = ""
    working_dir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    exposed_ports: tuple[str, ...] = ()  # "8080/tcp"
    healthcheck: Healthcheck | None = None
    stop_signal: str = ""
    # Build steps that made no layer ("CMD …", "RUN echo … | base64 -d | sh"), after the layers'
    # own steps in the config history.
    history: tuple[str, ...] = ()
    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    config_media_type: str = "application/vnd.oci.image.config.v1+json"
