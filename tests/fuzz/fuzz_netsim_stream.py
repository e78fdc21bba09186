"""An in-memory connection for the simulator's protocol servers: the fuzz input is what the
sample sent (then it hangs up), the answers and the recorded events are kept for checks."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Awaitable, Callable

from fuzz_harness import check

from detonate.sandbox.netsim.recorder import Flow, Recorder
from detonate.sandbox.netsim.stream import Closed, Stream

Serve = Callable[[Stream, Flow, Recorder], Awaitable[None]]
_loop: asyncio.AbstractEventLoop | None = None


class _Writer:
    """What Stream needs of an asyncio.StreamWriter."""

    def __init__(self) -> None:
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


def converse(
    serve: Serve, data: bytes, dst_port: int = 80
) -> tuple[bytes, list[dict[str, object]]]:
    """Run `serve` over a connection that delivers `data` then ends. Contract of every server:
    it returns, or raises Closed (the catch-all's handler takes that as a hang-up)."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    out = io.StringIO()
    recorder = Recorder(out, max_events=1000)
    flow = Flow("10.77.3.2", 40000, "192.0.2.10", dst_port, domain="pool.test")
    writer = _Writer()

    async def run() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        stream = Stream(reader, writer, idle=1.0)  # type: ignore[arg-type]
        await stream.fill()
        with contextlib.suppress(Closed):
            await serve(stream, flow, recorder)

    _loop.run_until_complete(run())
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    check(all(isinstance(e, dict) and isinstance(e.get("kind"), str) for e in events), "events")
    return bytes(writer.sent), events
