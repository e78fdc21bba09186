"""Everything else: server-first banners (SSH, SMTP, FTP, POP3, IMAP, telnet), then a sink that
keeps the first bytes and answers line protocols just enough to hear the next line."""

from __future__ import annotations

from detonate.sandbox.netsim.recorder import Flow, Recorder, preview
from detonate.sandbox.netsim.stream import Closed, Stream

# port → (protocol, banner) for servers that speak first
BANNERS: dict[int, tuple[str, bytes]] = {
    21: ("ftp", b"220 (vsFTPd 3.0.5)\r\n"),
    22: ("ssh", b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n"),
    2222: ("ssh", b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n"),
    23: ("telnet", b"Ubuntu 22.04.3 LTS\r\nlogin: "),
    25: ("smtp", b"220 mail.example.com ESMTP Postfix (Ubuntu)\r\n"),
    587: ("smtp", b"220 mail.example.com ESMTP Postfix (Ubuntu)\r\n"),
    110: ("pop3", b"+OK Dovecot (Ubuntu) ready.\r\n"),
    143: ("imap", b"* OK [CAPABILITY IMAP4rev1 LOGIN-REFERRALS AUTH=PLAIN] Dovecot ready.\r\n"),
}

# first word of a client line → reply, per line protocol
REPLIES: dict[str, dict[str, bytes]] = {
    "ftp": {
        "USER": b"331 Please specify the password.\r\n",
        "PASS": b"230 Login successful.\r\n",
        "PWD": b'257 "/" is the current directory\r\n',
        "QUIT": b"221 Goodbye.\r\n",
        "": b"200 OK.\r\n",
    },
    "smtp": {
        "EHLO": b"250-mail.example.com\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
        "HELO": b"250 mail.example.com\r\n",
        "DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
        "QUIT": b"221 2.0.0 Bye\r\n",
        "AUTH": b"235 2.7.0 Authentication successful\r\n",
        "": b"250 2.0.0 Ok\r\n",
    },
    "pop3": {"QUIT": b"+OK Logging out.\r\n", "": b"+OK\r\n"},
    "telnet": {"": b"Password: "},
}


async def serve_sink(
    stream: Stream, flow: Flow, recorder: Recorder, protocol: str, record_bytes: int
) -> None:
    kept = bytearray()
    total = 0
    in_data = False  # SMTP message body, until a line with a single "."
    replies = REPLIES.get(protocol)
    try:
        while True:
            chunk = await stream.read_some()
            total += len(chunk)
            if len(kept) < record_bytes:
                kept += chunk[: record_bytes - len(kept)]
            if replies is None:
                continue
            for line in chunk.split(b"\n"):
                word = line.strip().split(b" ", 1)[0].decode("ascii", "replace").upper()
                if in_data:
                    if line.strip() == b".":
                        in_data = False
                        await stream.send(b"250 2.0.0 Ok: queued\r\n")
                    continue
                if not line.strip():
                    continue
                await stream.send(replies.get(word, replies[""]))
                if protocol == "smtp" and word == "DATA":
                    in_data = True
                if word == "QUIT":
                    return
    except Closed:
        pass
    finally:
        recorder.emit(
            "bytes_sunk",
            flow,
            protocol=protocol,
            bytes_total=total,
            preview=preview(bytes(kept), record_bytes),
        )
