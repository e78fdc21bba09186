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
        "CWD": b"250 Directory successfully changed.\r\n",
        # the data connection's bytes come to the catch-all as their own flow (ftp-data); the
        # transfer's end is announced at once, the client reads it after sending its file
        "STOR": b"150 Ok to send data.\r\n226 Transfer complete.\r\n",
        "APPE": b"150 Ok to send data.\r\n226 Transfer complete.\r\n",
        "STOU": b"150 Ok to send data.\r\n226 Transfer complete.\r\n",
        "RETR": b"550 Failed to open file.\r\n",
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


# FTP passive mode: the ports told to clients, as (address, port). Their data connection is
# redirected to the catch-all like every other, which labels it ftp-data. One simulator serves
# one run, so the set stays small; it is bounded all the same.
PASSIVE_FIRST_PORT = 30000
PASSIVE_PORTS = 2000
passive_ports: set[tuple[str, int]] = set()
_next_passive = [0]


def _passive_reply(word: str, flow: Flow) -> bytes:
    """227/229 with a port of the address the client reached (REDIRECT brings it back here)."""
    port = PASSIVE_FIRST_PORT + _next_passive[0] % PASSIVE_PORTS
    _next_passive[0] += 1
    if len(passive_ports) < PASSIVE_PORTS:
        passive_ports.add((flow.dst_ip, port))
    if word == "EPSV":
        return f"229 Entering Extended Passive Mode (|||{port}|)\r\n".encode()
    a, b, c, d = flow.dst_ip.split(".")
    return f"227 Entering Passive Mode ({a},{b},{c},{d},{port >> 8},{port & 255}).\r\n".encode()


def is_passive_data(flow: Flow) -> bool:
    return (flow.dst_ip, flow.dst_port) in passive_ports


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
                if protocol == "ftp" and word in ("PASV", "EPSV") and ":" not in flow.dst_ip:
                    await stream.send(_passive_reply(word, flow))
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
