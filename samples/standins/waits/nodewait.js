#!/usr/bin/node
// Waits 900 s with setTimeout (libuv: epoll_wait with the timer's timeout), then starts the
// miner stand-in (/usr/local/bin/xmrig) logging in to a .test pool with a fake wallet for one
// share (detonate test sample; harmless, no real pool).
"use strict";
const { spawn } = require("child_process");

const WAIT_SECONDS = 900;
const POOL = "stratum+tcp://pool.waits.test:3333";
const WALLET =
  "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8";

console.log(`waiting ${WAIT_SECONDS} s with setTimeout`);
const started = process.hrtime.bigint();
setTimeout(() => {
  const waited = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`waited ${waited.toFixed(1)} s; starting the miner`);
  spawn("/usr/local/bin/xmrig", ["-o", POOL, "-u", WALLET, "--shares", "1"], {
    stdio: "inherit",
  }).on("exit", (code) => process.exit(code ?? 1));
}, WAIT_SECONDS * 1000);
