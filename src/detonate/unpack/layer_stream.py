"""One layer blob read once: hashed as stored, decompressed, hashed again, and handed to tarfile.

blob file ─► BlobReader (digest, progress) ─► inflate (gzip | zstd | none)
          ─► LayerStream (diff_id, ratio limit, forward-only read/seek for tarfile)
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from detonate.errors import MalformedLayer, UnsupportedMediaType
from detonate.model.options import UnpackLimits
from detonate.progress import Progress
from detonate.unpack.limits import limit_exceeded

READ_BYTES = 1024 * 1024  # compressed bytes per read
CHUNK_BYTES = 1024 * 1024  # at most this many decompressed bytes per step (bombs stay small)
HEADER_READ_CAP = 16 * 1024 * 1024  # tarfile reads pax/GNU long-name data into memory

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Compression(Enum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


# OCI image-spec layer types and the Docker v2 schema 2 ones.
_MEDIA_TYPES = {
    "application/vnd.oci.image.layer.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar": Compression.NONE,
    "application/vnd.docker.image.rootfs.diff.tar.gzip": Compression.GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": Compression.GZIP,
    "application/vnd.docker.image.rootfs.diff.tar.zstd": Compression.ZSTD,
}


def compression_for(media_type: str) -> Compression:
    try:
        return _MEDIA_TYPES[media_type]
    except KeyError:
        raise UnsupportedMediaType(
            f"layer media type {media_type!r} is not a tar layer detonate can read",
            "supported: OCI and Docker tar layers, uncompressed, gzip or zstd",
        ) from None


class BlobReader:
    """The stored blob, read sequentially; every byte goes into its digest."""

    def __init__(self, path: Path, digest: str) -> None:
        algorithm, _, self.expected = digest.partition(":")
        if algorithm not in ("sha256", "sha512"):
            raise UnsupportedMediaType(f"digest algorithm {algorithm!r} is not supported", "")
        self._hash = hashlib.new(algorithm)
        self._file: BinaryIO = path.open("rb", buffering=0)
        self.size = os.fstat(self._file.fileno()).st_size
        self.bytes_read = 0

    def read(self, size: int = READ_BYTES) -> bytes:
        data = self._file.read(size)
        if data:
            self._hash.update(data)
            self.bytes_read += len(data)
        return data

    def peek_magic(self) -> bytes:
        """The first bytes, without consuming them (for sniffing the real compression)."""
        return os.pread(self._file.fileno(), 4, 0)

    def drain(self) -> None:
        while self.read(READ_BYTES):
            pass

    def matches(self) -> bool:
        return self._hash.hexdigest() == self.expected

    def close(self) -> None:
        self._file.close()


def sniff(head: bytes) -> Compression:
    """The compression the bytes really use. Some tools label plain tar layers `tar.gzip`
    (docker save, older moby); the digest still covers the bytes, so trusting the magic is safe."""
    if head.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


def inflate(raw: BlobReader, compression: Compression) -> Iterator[bytes]:
    if compression == Compression.GZIP:
        return _gunzip(raw)
    if compression == Compression.ZSTD:
        return _unzstd(raw)
    return iter(lambda: raw.read(READ_BYTES), b"")


def _gunzip(raw: BlobReader) -> Iterator[bytes]:
    """Decompress gzip members in turn (a layer may hold several), at most CHUNK_BYTES a step."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = b""
    started = False
    try:
        while True:
            if inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            elif pending:
                data, pending = pending, b""
            else:
                data = raw.read(READ_BYTES)
            if not data:
                if started and not inflater.eof:
                    raise MalformedLayer("the gzip stream ends early (truncated layer)")
                return
            started = True
            out = inflater.decompress(data, CHUNK_BYTES)
            if out:
                yield out
            if inflater.eof:
                rest = inflater.unused_data or raw.read(READ_BYTES)
                if not rest.startswith(GZIP_MAGIC):
                    return  # end of the gzip data; any trailing bytes are still hashed by drain
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                pending = rest
    except zlib.error as error:
        raise MalformedLayer(f"the layer is not valid gzip: {error}") from None


def _unzstd(raw: BlobReader) -> Iterator[bytes]:
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(
        raw,  # type: ignore[arg-type]  # anything with read() will do
        read_size=READ_BYTES,
        read_across_frames=True,
    )
    try:
        while chunk := reader.read(CHUNK_BYTES):
            yield chunk
    except zstandard.ZstdError as error:
        raise MalformedLayer(f"the layer is not valid zstd: {error}") from None


_END = object()


def prefetch(chunks: Iterator[bytes], depth: int = 8) -> Iterator[bytes]:
    """Run `chunks` in a thread, at most `depth` chunks ahead. Reading, digesting and
    decompressing the blob (all release the GIL) overlap with writing files, as the two
    processes of `tar -xzf` do. Closing this generator stops and joins the thread."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_END)
        except BaseException as error:  # handed to the consumer, raised there
            put(error)

    thread = threading.Thread(target=produce, name="detonate-unpack-inflate", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class LayerStream:
    """The decompressed tar stream as the forward-only file object tarfile reads from.

    Counts and hashes every decompressed byte (diff_id) and stops gzip/zstd bombs: once a layer
    has expanded past `ratio_floor_bytes`, it may not exceed `max_ratio` times its stored size.
    """

    def __init__(
        self, raw: BlobReader, limits: UnpackLimits, progress: Progress, task: str
    ) -> None:
        self._raw = raw
        self._chunks = prefetch(inflate(raw, sniff(raw.peek_magic())))
        self._progress = progress
        self._task = task
        self._reported = 0
        stored_size = raw.size
        self._buf = b""
        self._pos = 0
        self._start = 0  # stream offset of _buf[0]
        self._diff = hashlib.sha256()
        self._limits = limits
        self._stored_size = max(stored_size, 1)
        self._check_ratio = stored_size > 0 and limits.max_ratio > 0
        self.expanded = 0

    def _refill(self) -> bool:
        chunk = next(self._chunks, b"")
        self._start += len(self._buf)
        self._buf, self._pos = chunk, 0
        if not chunk:
            return False
        self._diff.update(chunk)
        self.expanded += len(chunk)
        self.report_progress()
        if (
            self._check_ratio
            and self.expanded > self._limits.ratio_floor_bytes
            and self.expanded > self._limits.max_ratio * self._stored_size
        ):
            raise limit_exceeded(
                "max_ratio",
                f"a layer expands more than {self._limits.max_ratio}x "
                f"({self._stored_size} bytes stored, over {self.expanded} unpacked): "
                "a decompression bomb",
            )
        return True

    # -- the file-object surface tarfile uses ------------------------------------------------

    def tell(self) -> int:
        return self._start + self._pos

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > HEADER_READ_CAP:
            raise MalformedLayer(f"a tar header asks for {size} bytes of metadata")
        end = self._pos + size
        if end <= len(self._buf):
            data = self._buf[self._pos : end]
            self._pos = end
            return data
        parts = [self._buf[self._pos :]]
        missing = size - len(parts[0])
        self._pos = len(self._buf)
        while missing > 0 and self._refill():
            take = self._buf[:missing]
            parts.append(take)
            missing -= len(take)
            self._pos = len(take)
        return b"".join(parts)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET or offset < self.tell():
            raise MalformedLayer("the tar stream would need to go backwards")
        self.skip(offset - self.tell())
        return self.tell()

    # -- ours ---------------------------------------------------------------------------------

    def skip(self, size: int) -> None:
        while size > 0:
            if self._pos == len(self._buf) and not self._refill():
                raise MalformedLayer("the tar stream ends inside an entry (truncated layer)")
            step = min(size, len(self._buf) - self._pos)
            self._pos += step
            size -= step

    def copy_to(self, fd: int, size: int, hasher: hashlib._Hash) -> None:
        """Write the next `size` bytes to `fd`, hashing them on the way."""
        while size > 0:
            if self._pos == len(self._buf) and not self._refill():
                raise MalformedLayer("the tar stream ends inside a file (truncated layer)")
            step = min(size, len(self._buf) - self._pos)
            view = memoryview(self._buf)[self._pos : self._pos + step]
            hasher.update(view)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            self._pos += step
            size -= step

    def drain(self) -> None:
        """Read to the end (padding after the tar end marker), so both digests cover it all."""
        self._pos = len(self._buf)
        while self._refill():
            self._pos = len(self._buf)

    def close(self) -> None:
        """Stop the prefetch thread (needed before anyone else reads the blob)."""
        self._chunks.close()  # type: ignore[attr-defined]
        self.report_progress()

    def report_progress(self) -> None:
        """Advance the progress task by the stored bytes read since the last report."""
        read = self._raw.bytes_read
        if read > self._reported:
            self._progress.advance(self._task, read - self._reported)
            self._reported = read

    def diff_id(self) -> str:
        return "sha256:" + self._diff.hexdigest()
