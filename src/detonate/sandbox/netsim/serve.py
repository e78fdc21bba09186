"""The services process, run inside the simulator's namespace:

    ip netns exec detonate-sim-… python -m detonate.sandbox.netsim.serve [RUN_DIR/netsim/serve.json]

Without the settings file's path as its argument, it reads that path as the first line of its
stdin: the analyser starts it before the firewall and the CA are ready, so its imports overlap
with them. Binds its sockets, drops to nobody, prints "ready", serves until stdin closes or SIGTERM,
then ends every conversation (so summaries are written) and exits. A line on stdin,
`{"local_names": {…}}`, adds the container's own names (for a simulator started before its run
had a hostname) and is answered "names" once they are in effect.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

from detonate.sandbox.netsim.authority import CertificateAuthority
from detonate.sandbox.netsim.catchall import CatchAll, Services
from detonate.sandbox.netsim.config import NetsimConfig
from detonate.sandbox.netsim.dns import DnsDatagrams, Resolver
from detonate.sandbox.netsim.names import NameBook
from detonate.sandbox.netsim.recorder import Recorder
from detonate.sandbox.netsim.settings import ServeSettings
from detonate.sandbox.netsim.tls import Contexts
from detonate.sandbox.netsim.udp import DatagramSink, transparent_socket

NOBODY = 65534


def _listener(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def _drop_privileges() -> None:
    if os.getuid() != 0:
        return
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


async def _main(settings: ServeSettings, config: NetsimConfig) -> int:
    loop = asyncio.get_running_loop()
    listener = _listener(settings.catchall_port)
    dns_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns_socket.bind(("0.0.0.0", settings.dns_port))
    udp_socket = transparent_socket(settings.udp_sink_port) if settings.udp_sink_port else None
    events = open(settings.events, "a", encoding="utf-8")  # noqa: SIM115 - open for the run
    authority = CertificateAuthority.load(Path(settings.ca_cert), Path(settings.ca_key))
    if settings.drop_privileges:
        _drop_privileges()

    recorder = Recorder(events, config.max_events)
    names = NameBook(settings.sim_ip, config.address_per_name)
    resolver = Resolver(names, config.nxdomain, recorder, settings.local_names)
    services = Services(config, recorder, names, resolver, Contexts(authority, settings.sim_ip))
    catchall = CatchAll(services)
    await loop.create_datagram_endpoint(
        lambda: DnsDatagrams(resolver, settings.sim_ip), sock=dns_socket
    )
    sink = DatagramSink(udp_socket, names, recorder, config.record_bytes) if udp_socket else None
    if sink is not None:
        sink.start()
    accepting = asyncio.create_task(catchall.serve(listener))

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    async def watch_stdin() -> None:
        while line := await stdin.readline():
            try:
                resolver.add_local_names(dict(json.loads(line)["local_names"]))
            except (ValueError, TypeError, KeyError):
                continue  # not from the analyser: nothing to acknowledge
            print("names", flush=True)
        stop.set()  # EOF: the analyser is done, or gone

    watcher = asyncio.create_task(watch_stdin())
    print("ready", flush=True)
    await stop.wait()

    accepting.cancel()
    watcher.cancel()
    await catchall.shutdown()
    if sink is not None:
        sink.flush()
    recorder.close()
    events.close()
    print(
        json.dumps({"peak_connections": catchall.peak, "refused": catchall.refused}),
        file=sys.stderr,
        flush=True,
    )
    return 0


def _first_line_of_stdin() -> str:
    """Byte by byte from the fd: a buffered read could swallow the lines after it, which the
    event loop reads from the same pipe later."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(sys.stdin.fileno(), 1)
        if not byte:
            break  # the analyser is gone before it told the settings
        line += byte
    return line.decode().strip()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else _first_line_of_stdin()
    if not path:
        return 1
    settings, config = ServeSettings.from_json(Path(path).read_text())
    return asyncio.run(_main(settings, config))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written and closed: skip the interpreter's teardown (a quarter of a second
    # on a busy node), which the analyser would wait for at the end of every run.
    os._exit(code)
