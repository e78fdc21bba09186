"""An IRC server that welcomes any registration and records NICK, USER, JOIN and PRIVMSG."""

from __future__ import annotations

from detonate.sandbox.netsim.recorder import Flow, Recorder
from detonate.sandbox.netsim.stream import Stream

SERVER = "irc.sim"
COMMANDS = (b"NICK ", b"USER ", b"PASS ", b"CAP ")
MAX_MESSAGES = 200  # PRIVMSGs recorded per connection


def looks_like_irc(data: bytes) -> bool:
    return data.upper().startswith(COMMANDS)


async def serve_irc(stream: Stream, flow: Flow, recorder: Recorder, record_bytes: int) -> None:
    nick = user = ""
    welcomed = False
    messages = 0

    async def say(*lines: str) -> None:
        await stream.send("".join(line + "\r\n" for line in lines).encode())

    while True:
        # :prefix COMMAND arg arg :trailing text
        raw = (await stream.readline(8192)).decode("utf-8", "replace").strip()
        if raw.startswith(":"):
            raw = raw.split(" ", 1)[1] if " " in raw else ""
        head, _, trailing = raw.partition(" :")
        words = head.split()
        if not words:
            continue
        command, args = words[0].upper(), words[1:]
        if command == "NICK" and (args or trailing):
            nick = (args[0] if args else trailing)[:64]
        elif command == "USER" and args:
            user = args[0][:64]
        elif command == "CAP":
            await say(f":{SERVER} CAP * LS :")
        elif command == "PING":
            await say(f":{SERVER} PONG {SERVER} :{trailing or (args[0] if args else '')}")
        elif command == "JOIN" and (args or trailing):
            for channel in (args[0] if args else trailing).split(",")[:32]:
                recorder.emit("irc_joined", flow, nick=nick, user=user, channel=channel[:200])
                await say(
                    f":{nick}!{user}@sample JOIN {channel}",
                    f":{SERVER} 332 {nick} {channel} :",
                    f":{SERVER} 353 {nick} = {channel} :{nick} @op",
                    f":{SERVER} 366 {nick} {channel} :End of /NAMES list.",
                )
        elif command in ("PRIVMSG", "NOTICE") and args:
            messages += 1
            if messages <= MAX_MESSAGES:
                recorder.emit(
                    "irc_messaged",
                    flow,
                    nick=nick,
                    target=args[0][:200],
                    text=trailing[:record_bytes],
                )
        elif command == "MODE" and args:
            await say(f":{SERVER} 324 {nick} {args[0]} +")
        elif command == "QUIT":
            return
        if nick and user and not welcomed:
            welcomed = True
            recorder.emit("irc_joined", flow, nick=nick, user=user, channel="")
            await say(
                f":{SERVER} 001 {nick} :Welcome to the Internet Relay Network {nick}!{user}@sample",
                f":{SERVER} 002 {nick} :Your host is {SERVER}, running version 2.11",
                f":{SERVER} 003 {nick} :This server was created today",
                f":{SERVER} 004 {nick} {SERVER} 2.11 aoOirw abeiIklmnoOpqrstv",
                f":{SERVER} 375 {nick} :- {SERVER} Message of the day -",
                f":{SERVER} 376 {nick} :End of MOTD command.",
            )
