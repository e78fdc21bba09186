"""Layer specs → deterministic layer blobs (sorted entries, fixed mtimes, gzip mtime 0)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from detonate.factory.spec import (
    OCI_LAYER_GZIP,
    OCI_LAYER_TAR,
    BlobLayer,
    FileSpec,
    Layer,
    LayerSpec,
    RawEntry,
    RawLayer,
)

# 2024-01-01T00:00:00Z: every file and the image config carry this time, so builds repeat.
FIXED_EPOCH = 1_704_067_200
FIXED_CREATED = "2024-01-01T00:00:00Z"

_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
}


@dataclass(frozen=True)
class BuiltLayer:
    blob: bytes  # as stored in the registry (usually gzip)
    media_type: str
    diff_id: str  # sha256 of the uncompressed tar
    uncompressed: bytes  # the tar itself (docker-archive stores this)
    created_by: str = ""

    @property
    def digest(self) -> str:
        return sha256_digest(self.blob)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gzip_deterministic(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return out.getvalue()


def build_layers(layers: tuple[Layer, ...]) -> tuple[BuiltLayer, ...]:
    """Build layers in order; a parent directory a layer needs but does not declare is written
    with the mode it had in the layers below (as docker's diffs do), else 0755."""
    dirs: dict[str, tarfile.TarInfo] = {}
    built = []
    for layer in layers:
        built.append(build_layer(layer, dirs))
        entries = layer.entries if isinstance(layer, RawLayer) else ()
        if isinstance(layer, LayerSpec):
            entries = tuple(RawEntry(_file_info(_tar_name(f.path), f)) for f in layer.files)
        dirs.update({e.info.name.rstrip("/"): e.info for e in entries if e.info.isdir()})
    return tuple(built)


def build_layer(layer: Layer, dirs_below: dict[str, tarfile.TarInfo] | None = None) -> BuiltLayer:
    if isinstance(layer, BlobLayer):
        if layer.diff_id:
            diff_id = layer.diff_id
        elif layer.uncompressed is not None:
            diff_id = sha256_digest(layer.uncompressed)
        else:
            raise ValueError("a BlobLayer needs diff_id or uncompressed")
        return BuiltLayer(
            layer.blob, layer.media_type, diff_id, layer.uncompressed or b"", layer.created_by
        )
    if isinstance(layer, RawLayer):
        tar = raw_tar(layer.entries)
        if layer.compression == "none":
            return BuiltLayer(tar, OCI_LAYER_TAR, sha256_digest(tar), tar, layer.created_by)
        return BuiltLayer(
            gzip_deterministic(tar), OCI_LAYER_GZIP, sha256_digest(tar), tar, layer.created_by
        )
    tar = layer_tar(layer, dirs_below or {})
    return BuiltLayer(
        gzip_deterministic(tar), OCI_LAYER_GZIP, sha256_digest(tar), tar, layer.created_by
    )


def raw_tar(entries: tuple[RawEntry, ...]) -> bytes:
    """Entries exactly as given: the way to ship `../x`, `/abs`, devices, duplicate names."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = entry.info
            if info.isreg():
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return out.getvalue()


def layer_tar(layer: LayerSpec, dirs_below: dict[str, tarfile.TarInfo]) -> bytes:
    entries: dict[str, RawEntry] = {}
    for spec in layer.files:
        name = _tar_name(spec.path)
        for parent in reversed(PurePosixPath(name).parents[:-1]):
            below = dirs_below.get(str(parent))
            info = _dir_info(str(parent)) if below is None else _copy_dir_info(below)
            entries.setdefault(str(parent), RawEntry(info))
        entries[name] = RawEntry(
            _file_info(name, spec), spec.data() if spec.type == "file" else b""
        )
    # Sorted for repeatable digests; hardlinks last, so their targets are already written.
    order = sorted(entries, key=lambda name: (entries[name].info.islnk(), name))
    return raw_tar(tuple(entries[name] for name in order))


def _tar_name(path: str) -> str:
    """ "/etc/passwd" → "etc/passwd", as docker writes layer tars."""
    name = str(PurePosixPath("/", path)).lstrip("/")
    if not name:
        raise ValueError(f"not a file path: {path!r}")
    return name


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = FIXED_EPOCH
    return info


def _copy_dir_info(info: tarfile.TarInfo) -> tarfile.TarInfo:
    copy = _dir_info(info.name.rstrip("/"))
    copy.mode, copy.uid, copy.gid = info.mode, info.uid, info.gid
    return copy


def _file_info(name: str, spec: FileSpec) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = _TAR_TYPES[spec.type]
    info.mode = spec.effective_mode()
    info.uid, info.gid = spec.uid, spec.gid
    info.mtime = FIXED_EPOCH
    if spec.type == "symlink":
        info.linkname = spec.link_target
    elif spec.type == "hardlink":
        info.linkname = _tar_name(spec.link_target)
    return info
