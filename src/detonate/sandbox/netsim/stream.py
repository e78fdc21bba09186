"""A byte stream with a look-ahead buffer, so the first bytes can pick the protocol."""

from __future__ import annotations

import asyncio
import contextlib


class Closed(Exception):
    """The peer hung up, went silent past the idle time, or sent more than a limit allows."""


class Stream:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.idle = idle
        self.buffer = bytearray()
        self.bytes_in = 0

    async def fill(self, timeout: float | None = None) -> bool:
        """Reads more into the buffer; False at end of stream or after `timeout` seconds."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout or self.idle)
        except (TimeoutError, ConnectionError, OSError):
            return False
        if not data:
            return False
        self.bytes_in += len(data)
        self.buffer += data
        return True

    async def readuntil(self, separator: bytes, limit: int) -> bytes:
        while True:
            at = self.buffer.find(separator)
            if at >= 0:
                return self.take(at + len(separator))
            if len(self.buffer) > limit or not await self.fill():
                raise Closed

    async def readline(self, limit: int = 65536) -> bytes:
        return await self.readuntil(b"\n", limit)

    async def readexactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not await self.fill():
                raise Closed
        return self.take(count)

    async def read_some(self) -> bytes:
        if not self.buffer and not await self.fill():
            raise Closed
        return self.take(len(self.buffer))

    def take(self, count: int) -> bytes:
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    async def send(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), self.idle)
        except (TimeoutError, ConnectionError, OSError) as error:
            raise Closed from error

    def close(self) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            self.writer.close()
