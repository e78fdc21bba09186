"""The simulator's IRC server (NICK, USER, JOIN, PRIVMSG recorded).

Contract: returns or raises Closed; answers are CRLF-terminated lines.
"""

from __future__ import annotations

from collections.abc import Iterator

from fuzz_harness import check
from fuzz_netsim_stream import converse

from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.irc import serve_irc

TIME_BOUND = 5.0
RECORD_BYTES = NetsimConfig().record_bytes  # as the simulator runs


def seeds() -> Iterator[bytes]:
    yield b"NICK bot123\r\nUSER bot 0 * :bot\r\nJOIN #c2,#x\r\nPRIVMSG #c2 :!ddos 192.0.2.1\r\n"
    yield b"CAP LS 302\r\nPASS k\r\nNICK b\r\nUSER b 0 * :b\r\nPING :x\r\nMODE b +i\r\nQUIT\r\n"
    yield b":pre NOTICE #c :hi\r\nJOIN :#y\r\n"


async def _serve(stream, flow, recorder) -> None:  # type: ignore[no-untyped-def]
    await serve_irc(stream, flow, recorder, RECORD_BYTES)


def fuzz(data: bytes) -> None:
    sent, _ = converse(_serve, data, dst_port=6667)
    check(not sent or sent.endswith(b"\r\n"), "an answer line without CRLF")
