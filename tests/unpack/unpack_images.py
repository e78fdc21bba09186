"""Hand-made layers and images for the unpack tests (no acquire stage, no image factory).

    layer = Layer().dir("etc").file("etc/hostname", b"box\\n").symlink("bin", "usr/bin")
    image = write_image(tmp_path / "blobs", [layer])

`Layer` writes tar headers exactly as given: absolute names, "..", devices and all.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import zstandard

from detonate.model.image import AcquiredImage, ImageConfig, LayerRef, Platform

OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class Layer:
    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._tar = tarfile.TarFile(fileobj=self._buffer, mode="w", format=tarfile.PAX_FORMAT)
        self._bytes: bytes | None = None

    def _add(self, info: tarfile.TarInfo, data: bytes | None = None) -> Layer:
        info.mtime = 1_700_000_000
        self._tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return self

    def file(
        self, name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0
    ) -> Layer:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
        return self._add(info, data)

    def huge_file(self, name: str, size: int) -> Layer:
        """A header that announces `size` bytes of zeros (written, so the tar is valid)."""
        info = tarfile.TarInfo(name)
        info.size = size
        self._tar.addfile(info, _Zeros(size))
        return self

    def dir(self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Layer:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, gid
        return self._add(info)

    def symlink(self, name: str, target: str) -> Layer:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        return self._add(info)

    def hardlink(self, name: str, target: str) -> Layer:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.LNKTYPE, target
        return self._add(info)

    def device(self, name: str, char: bool = True, major: int = 1, minor: int = 3) -> Layer:
        info = tarfile.TarInfo(name)
        info.type = tarfile.CHRTYPE if char else tarfile.BLKTYPE
        info.devmajor, info.devminor, info.mode = major, minor, 0o666
        return self._add(info)

    def fifo(self, name: str) -> Layer:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.FIFOTYPE, 0o644
        return self._add(info)

    def whiteout(self, path: str) -> Layer:
        directory, _, name = path.rpartition("/")
        return self.file(f"{directory}/.wh.{name}" if directory else f".wh.{name}")

    def opaque(self, directory: str) -> Layer:
        return self.file(f"{directory}/.wh..wh..opq")

    def tar(self) -> bytes:
        if self._bytes is None:
            self._tar.close()
            self._bytes = self._buffer.getvalue()
        return self._bytes


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        step = min(len(buffer), self._left)
        buffer[:step] = bytes(step)
        self._left -= step
        return step


def compress(data: bytes, media_type: str) -> bytes:
    if media_type.endswith("gzip"):
        return gzip.compress(data, compresslevel=6, mtime=0)
    if media_type.endswith("zstd"):
        return zstandard.ZstdCompressor().compress(data)
    return data


def store_blob(blobs_dir: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blobs_dir / "sha256" / digest.partition(":")[2]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def write_image(
    blobs_dir: Path,
    layers: list[Layer | bytes],
    media_type: str = OCI_GZIP,
    diff_ids: bool = True,
    blobs: list[bytes] | None = None,
) -> AcquiredImage:
    """An AcquiredImage whose layers are the given tars (or raw blobs, stored as they are)."""
    refs, ids = [], []
    for layer in layers:
        tar = layer.tar() if isinstance(layer, Layer) else layer
        blob = compress(tar, media_type)
        refs.append(LayerRef(store_blob(blobs_dir, blob), media_type, len(blob)))
        ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    for blob in blobs or []:
        refs.append(LayerRef(store_blob(blobs_dir, blob), media_type, len(blob)))
    config = ImageConfig(diff_ids=tuple(ids) if diff_ids and not blobs else ())
    return AcquiredImage(
        reference="oci:test:latest",
        digest="sha256:" + "0" * 64,
        platform=Platform(),
        config_digest="sha256:" + "1" * 64,
        config=config,
        layers=tuple(refs),
        blobs_dir=blobs_dir,
    )
