"""Honeypot benchmarks: prints medians and ratios, asserts nothing. Loopback only.

    python benchmarks/honeypot_bench.py [--seconds 3] [--clients 8]

1. requests per second the honeypot answers (recording each in SQLite) vs a bare asyncio server
   on the same loop answering the same bytes without recording: the price of the recording;
2. containers/create per second (each one recorded and queued as a scan);
3. connections held open at once (idle kept-alive clients, up to the per-source limit);
4. `detonate report` time over generated sessions and scans (SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from detonate.honeypot.server import Honeypot, HoneypotSettings
from detonate.intel.figures import gather
from detonate.store import Store
from detonate.store.honeypot_models import HoneypotDeployment, HoneypotSession

PING = b"GET /v1.41/_ping HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"
PONG = (
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 2\r\n\r\nOK"
)


async def bare_server() -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(PONG)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def client(port: int, request: bytes, deadline: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    while time.monotonic() < deadline:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        if b"chunked" in head.lower():
            await reader.readuntil(b"0\r\n\r\n")
        elif length:
            await reader.readexactly(length)
        done += 1
    writer.close()
    return done


async def rate(port: int, request: bytes, clients: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    counts = await asyncio.gather(*(client(port, request, deadline) for _ in range(clients)))
    return sum(counts) / seconds


def create_request(n: int) -> bytes:
    body = json.dumps({"Image": "nginx:latest", "Cmd": ["sh", "-c", f"echo {n}"]}).encode()
    return (
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def held(port: int, count: int) -> int:
    opened = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(PING)
        await reader.readuntil(b"OK")
        opened.append(writer)
    await asyncio.sleep(0.5)
    alive = 0
    for writer in opened:
        if not writer.is_closing():
            alive += 1
        writer.close()
    return alive


def fill(store: Store, sessions: int, scans_every: int) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    deployments = []
    with Session(store.engine) as session, session.begin():
        for n in range(sessions):
            at = start + timedelta(seconds=n * 25)
            sid = str(uuid.uuid4())
            session.add(
                HoneypotSession(
                    id=sid,
                    honeypot="bench",
                    source_ip=f"203.0.113.{n % 250}",
                    country="",
                    first_seen=at,
                    last_seen=at,
                    requests=3,
                    evidence_json="[]",
                )
            )
            if n % scans_every == 0:
                deployments.append(
                    HoneypotDeployment(
                        session_id=sid,
                        at=at,
                        kind="create",
                        container_id="x",
                        image=f"alpine:{n % 7}",
                        config_json="{}",
                        escape_intent_json='["privileged"]',
                        decoded_json="[]",
                        profile="hp-bench",
                        scan_id=None,
                    )
                )
        session.flush()  # sessions before the deployments that point at them
        session.add_all(deployments)


async def main(seconds: float, clients: int) -> None:
    with tempfile.TemporaryDirectory(prefix="honeypot-bench-") as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        honeypot = Honeypot(
            store,
            HoneypotSettings(ports=(0,), requests_per_second=1e9, burst=10**9),
        )
        bound = await honeypot.start()
        port = bound[0][1]
        bare = await bare_server()
        bare_port = bare.sockets[0].getsockname()[1]

        runs: dict[str, list[float]] = {"honeypot": [], "bare": [], "create": [], "stored": []}
        for _ in range(3):
            runs["bare"].append(await rate(bare_port, PING, clients, seconds))
            answered = await rate(port, PING, clients, seconds)
            started = time.monotonic()
            await honeypot.flush()  # the write-behind catches up: answered is then stored
            runs["honeypot"].append(answered)
            runs["stored"].append(answered * seconds / (seconds + time.monotonic() - started))
        counter = iter(range(10**9))
        for _ in range(3):
            deadline = time.monotonic() + seconds
            made = 0
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while time.monotonic() < deadline:
                writer.write(create_request(next(counter)))
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                made += 1
            writer.close()
            started = time.monotonic()
            await honeypot.flush()
            runs["create"].append(made / (seconds + time.monotonic() - started))
        alive = await held(port, 16)

        medians = {name: statistics.median(values) for name, values in runs.items()}
        print(f"ping, {clients} clients, {seconds:.0f} s x3 (median requests/s):")
        print(f"  bare asyncio answer      {medians['bare']:8.0f}")
        print(
            f"  honeypot, answered       {medians['honeypot']:8.0f}"
            f"   ratio {medians['honeypot'] / medians['bare']:.3f}"
        )
        print(
            f"  honeypot, until stored     {medians['stored']:8.0f}"
            f"   ratio {medians['stored'] / medians['bare']:.3f}"
        )
        print(f"containers/create, 1 client, until recorded and queued: {medians['create']:.0f}/s")
        print(f"requests answered but not recorded: {honeypot.dropped}")
        print(f"kept-alive connections held from one source: {alive}/16 (the per-source limit)")
        await honeypot.stop()
        bare.close()

        for sessions in (10_000, 100_000):
            report_store = Store.open(f"sqlite:///{Path(tmp) / f'report-{sessions}.db'}")
            fill(report_store, sessions, 10)
            times = []
            for _ in range(3):
                started = time.perf_counter()
                gather(report_store, datetime.now(UTC) - timedelta(days=31), datetime.now(UTC))
                times.append(time.perf_counter() - started)
            print(
                f"report over {sessions} sessions, {sessions // 10} deployments (SQLite): "
                f"median {statistics.median(times):.2f} s"
            )
            report_store.close()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.clients))
